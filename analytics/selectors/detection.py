"""Reads for analytics: plain rows out of the rollup tables, shaped for the pure functions."""

import struct
from datetime import date, datetime
from typing import Any
from uuid import UUID

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.db.models import Max, Min, Sum

from analytics.detection import RECORD_SPANS
from analytics.grids import IntArray, PairRows, country_code
from analytics.models import HourCount, MinuteCount, RollupRewrite, RollupState, SeriesPeak
from analytics.sql import epoch_seconds


def series_id(service_id: int, country: str = "") -> str:
    """Detection series: "12" is service 12 worldwide, "12:BR" is service 12 in Brazil."""
    return f"{service_id}:{country}" if country else str(service_id)


def parse_series_id(sid: str) -> tuple[int, str]:
    service, _, country = sid.partition(":")
    return int(service), country


# PostgreSQL's binary COPY: a fixed header, then per row a 16-bit field count and per field a
# 32-bit length and the value, big-endian; a 16-bit -1 ends it. An array value is its number of
# dimensions, a null flag, the element type, per dimension its size and lower bound, then the
# elements, each with its length. Timestamps are microseconds since 2000-01-01 UTC.
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_ARRAY_ELEMENT = np.dtype([("length", ">i4"), ("value", ">i8")])
_PG_EPOCH_S = 946_684_800
# The GROUP BY into arrays holds all the rows at once (a few hundred bytes a row).
_ARRAY_WORK_MEM = "256MB"


def _parse_pair_arrays(data: bytes) -> PairRows | None:
    """Rows of (bigint service, text country, timestamptz[], bigint[]) from a binary COPY;
    None if the stream has another shape."""
    if not data.startswith(_COPY_SIGNATURE):
        return None
    pos = 19 + int.from_bytes(data[15:19], "big")
    parts: list[tuple[IntArray, ...]] = []
    while True:
        (fields,) = struct.unpack_from(">h", data, pos)
        if fields == -1:
            break
        length, service = struct.unpack_from(">iq", data, pos + 2)
        (text_length,) = struct.unpack_from(">i", data, pos + 14)
        if fields != 4 or length != 8 or text_length < 0:
            return None
        pos += 18
        country = country_code(data[pos : pos + text_length].decode())
        pos += text_length
        arrays = []
        for _ in range(2):
            length, dims, _nulls, _type, size = struct.unpack_from(">iiiIi", data, pos)
            if dims != 1:
                return None
            elements = np.frombuffer(data, dtype=_ARRAY_ELEMENT, count=size, offset=pos + 24)
            if (elements["length"] != 8).any():
                return None
            arrays.append(elements["value"].astype(np.int64))
            pos += 4 + length
        t, count = arrays
        parts.append((np.full(size, service), np.full(size, country), t, count))
    if not parts:
        return PairRows(*(np.zeros(0, dtype=np.int64) for _ in range(4)))
    service, countries, t, count = (np.concatenate(column) for column in zip(*parts, strict=True))
    return PairRows(service=service, country=countries, t=t // 1_000_000 + _PG_EPOCH_S, count=count)


def _pair_rows(table: str, time_col: str, since: datetime, until: datetime) -> PairRows:
    """(service, country, time, count) rows of a rollup table in [since, until), summed per
    (service, country, time), as arrays.

    On PostgreSQL, one row per (service, country) with its times and counts as arrays, in a
    binary COPY read by numpy: a row per count would be millions of messages at a couple of
    microseconds each in the driver, and building Python tuples costs more still."""
    count = "sum(count)" if table == MinuteCount._meta.db_table else "count"
    group = f" GROUP BY service_id, country, {time_col}" if count != "count" else ""
    where = f"FROM {table} WHERE {time_col} >= %s AND {time_col} < %s{group}"
    adapt = connection.ops.adapt_datetimefield_value
    params = [adapt(since), adapt(until)]
    if connection.vendor == "postgresql":
        sql = (
            f"COPY (SELECT service_id, country, array_agg(t), array_agg(n) FROM "
            f"(SELECT service_id, country, {time_col} AS t, CAST({count} AS bigint) AS n "
            f"{where}) rows GROUP BY service_id, country) TO STDOUT (FORMAT BINARY)"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{_ARRAY_WORK_MEM}'")
            with cursor.cursor.copy(sql, params) as copy:
                data = b"".join(bytes(block) for block in copy)
        parsed = _parse_pair_arrays(data)
        if parsed is not None:
            return parsed
    epoch = epoch_seconds(time_col)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT service_id, country, {epoch}, {count} {where}", params)
        rows = cursor.fetchall()
    code = {c: country_code(c) for c in {row[1] for row in rows}}
    return PairRows(
        service=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
        country=np.fromiter((code[r[1]] for r in rows), dtype=np.int64, count=len(rows)),
        t=np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows)),
        count=np.fromiter((r[3] for r in rows), dtype=np.int64, count=len(rows)),
    )


def minute_pair_rows(*, since: datetime, until: datetime) -> PairRows:
    """Reports per minute per (service, country) in [since, until), as arrays."""
    return _pair_rows(MinuteCount._meta.db_table, "minute", since, until)


def hour_pair_rows(*, since: datetime, until: datetime) -> PairRows:
    """Reports per hour per (service, country) in [since, until), as arrays."""
    return _pair_rows(HourCount._meta.db_table, "hour", since, until)


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


def rollup_watermark(*, name: str) -> tuple[UUID, datetime] | None:
    """A rollup's history id and watermark (see RollupState), or None before its first run."""
    row = RollupState.objects.filter(name=name).values_list("history_id", "complete_until").first()
    return (row[0], row[1]) if row else None


def rollup_rewrites(*, after: int | None) -> tuple[int, datetime | None]:
    """The newest RollupRewrite's id (0 before any) and the earliest minute re-summed by the
    rewrites after id `after`, or None if there are none (or `after` is None)."""
    newest = RollupRewrite.objects.aggregate(id=Max("id"))["id"] or 0
    if after is None or newest <= after:
        return newest, None
    since = RollupRewrite.objects.filter(id__gt=after).aggregate(since=Min("since"))["since"]
    return newest, since


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
    epoch = epoch_seconds("minute")
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
    epoch = epoch_seconds("hour")
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


def series_peak_rows(*, since: date, until: date) -> pd.DataFrame:
    """Kept day peaks of every series for the days since..until (exclusive): ``series_id``,
    ``day`` and one ``peak_<span>`` column per ``analytics.detection.RECORD_SPANS``."""
    fields = [f"peak_{span}" for span in RECORD_SPANS]
    rows = list(
        SeriesPeak.objects.filter(day__gte=since, day__lt=until).values_list(
            "service_id", "country", "day", *fields
        )
    )
    frame = pd.DataFrame(rows, columns=["service_id", "country", "day", *fields])
    frame.insert(
        0,
        "series_id",
        [series_id(s, c) for s, c in zip(frame["service_id"], frame["country"], strict=True)],
    )
    return frame.drop(columns=["service_id", "country"])
