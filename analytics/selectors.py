"""Reads for analytics: plain rows out of the rollup tables, shaped for the pure functions."""

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Sum

from analytics.models import HourCount, MinuteCount


def series_id(service_id: int, country: str = "") -> str:
    """Detection series: "12" is service 12 worldwide, "12:BR" is service 12 in Brazil."""
    return f"{service_id}:{country}" if country else str(service_id)


def parse_series_id(sid: str) -> tuple[int, str]:
    service, _, country = sid.partition(":")
    return int(service), country


# Seconds since the epoch, computed by the database: building a Python datetime per row is
# what dominated a detection pass over thousands of series (millions of hour rows).
_EPOCH_SQL = {
    "postgresql": "extract(epoch from {col})::bigint",
    "sqlite": "CAST(strftime('%%s', {col}) AS INTEGER)",
}


def _fetch(sql: str, params: list[Any]) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return pd.DataFrame.from_records(rows, columns=["service_id", "country", "t", "count"])


def _long(frame: pd.DataFrame, countries: set[tuple[int, str]]) -> pd.DataFrame:
    """(service_id, country, t, count) rows to detection series: every service worldwide,
    plus the given (service, country) pairs."""
    cols = ["series_id", "bucket", "count"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    frame["bucket"] = pd.to_datetime(frame["t"].astype("int64"), unit="s", utc=True)
    total = frame.groupby(["service_id", "bucket"], as_index=False).agg(count=("count", "sum"))
    total["series_id"] = total["service_id"].astype(str)
    busy = pd.MultiIndex.from_tuples(sorted(countries), names=["service_id", "country"])
    keep = pd.MultiIndex.from_frame(frame[["service_id", "country"]]).isin(busy)
    per_country = frame[keep].copy()
    per_country["series_id"] = per_country["service_id"].astype(str) + ":" + per_country["country"]
    parts: list[pd.DataFrame] = [total[cols], per_country[cols]]
    return pd.concat(parts, ignore_index=True)


def busy_countries(*, since: datetime, min_reports: int) -> set[tuple[int, str]]:
    """(service, country) pairs with enough volume for a baseline of their own."""
    rows = (
        HourCount.objects.filter(hour__gte=since)
        .values("service_id", "country")
        .annotate(n=Sum("count"))
        .filter(n__gte=min_reports)
        .values_list("service_id", "country")
    )
    return {(s, c) for s, c in rows}


def minute_series(
    *, since: datetime, until: datetime, countries: set[tuple[int, str]]
) -> pd.DataFrame:
    """Long rows (series_id, bucket, count) per minute: every service worldwide, plus the
    given (service, country) pairs."""
    epoch = _EPOCH_SQL[connection.vendor].format(col="minute")
    adapt = connection.ops.adapt_datetimefield_value
    frame = _fetch(
        f"SELECT service_id, country, {epoch}, sum(count) FROM {MinuteCount._meta.db_table} "
        "WHERE minute >= %s AND minute < %s GROUP BY service_id, country, minute",
        [adapt(since), adapt(until)],
    )
    return _long(frame, countries)


def hour_series(
    *, since: datetime, until: datetime, countries: set[tuple[int, str]]
) -> pd.DataFrame:
    epoch = _EPOCH_SQL[connection.vendor].format(col="hour")
    adapt = connection.ops.adapt_datetimefield_value
    frame = _fetch(
        f"SELECT service_id, country, {epoch}, count FROM {HourCount._meta.db_table} "
        "WHERE hour >= %s AND hour < %s",
        [adapt(since), adapt(until)],
    )
    return _long(frame, countries)


def window_breakdown(
    *, service_id: int, since: datetime, until: datetime, country: str = ""
) -> pd.DataFrame:
    """Rows (country, subdivision, problem, count) of one service over a window."""
    qs = MinuteCount.objects.filter(service_id=service_id, minute__gte=since, minute__lt=until)
    if country:
        qs = qs.filter(country=country)
    rows = list(
        qs.values("country", "subdivision", "problem")
        .annotate(n=Sum("count"))
        .values_list("country", "subdivision", "problem", "n")
    )
    return pd.DataFrame(rows, columns=["country", "subdivision", "problem", "count"])


def to_wide(rows: pd.DataFrame, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Long (series_id, bucket, count) rows to a regular matrix on `index`.

    Buckets with no rows are 0 reports, except before a series' first report, which are NaN
    ("not observed"): a service added last week has no history, not five weeks of silence.
    """
    codes, series = pd.factorize(rows["series_id"], sort=True)
    step = index[1] - index[0] if len(index) > 1 else pd.Timedelta(minutes=1)
    offset = ((pd.DatetimeIndex(rows["bucket"]) - index[0]) // step).to_numpy(dtype=np.int64)
    inside = (offset >= 0) & (offset < len(index))
    flat = offset[inside] * len(series) + codes[inside]
    weights = rows["count"].to_numpy(dtype=np.float64)[inside]
    sums = np.bincount(flat, weights=weights, minlength=len(index) * len(series))
    matrix = sums.reshape(len(index), len(series))
    seen = np.maximum.accumulate(matrix > 0, axis=0)
    matrix = np.where(seen, matrix, np.nan)
    return pd.DataFrame(matrix, index=index, columns=pd.Index(series, name="series_id"))
