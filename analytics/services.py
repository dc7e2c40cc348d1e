"""The detection pass, stored baselines and the replay of detection over history: reads the
rollup's counts, runs the pure detector (analytics/detection.py) and hands what it found to
the incident domain (outages.services.detection_apply), which decides what it means."""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day

import numpy as np
import numpy.typing as npt
import pandas as pd
from django.conf import settings
from django.db import connection
from django.utils import timezone

from analytics.baseline import expected as baseline_expected
from analytics.baseline import grid_for
from analytics.breakdown import problem_shares, region_excess
from analytics.detection import (
    CLOSE_QUIET,
    CLOSE_RECENT_SPAN,
    RECORD_DAYS,
    RECORD_LEAD,
    RECORD_SPANS,
    STATES,
    detect_frames,
    detect_many,
    records_from_rows,
    rise_start,
    window_lengths,
)
from analytics.grids import PairGrid, Series, grid_series, grid_update
from analytics.models import Baseline, SeriesPeak
from analytics.rollup import ROLLUP
from analytics.selectors.detection import (
    busy_countries,
    hour_pair_rows,
    hour_series,
    minute_pair_rows,
    minute_series,
    parse_series_id,
    rollup_rewrites,
    rollup_watermark,
    series_peak_rows,
    to_wide,
    window_breakdown,
)
from analytics.selectors.windows import baseline_totals
from common.cache import detection_pass_mark
from common.time import floor_hour, floor_minute
from outages.models import Incident, Level
from outages.selectors import incident_scopes_recent
from outages.services import (
    SeriesState,
    detection_apply,
    incident_record_past,
    incident_set_breakdown,
)
from reports.selectors import recovery_counts

# Detection sees the last 30 hours per minute (a day for the bucket-level dispersion plus the
# state machine's replay) and 7 weeks of hourly totals before that (5 for the weekly median,
# plus the level and dispersion look-backs).
DETECTION_MINUTES = timedelta(hours=30)
DETECTION_HISTORY = timedelta(weeks=7)
# Regions' usual shares come from the day before an incident.
REFERENCE_SPAN = timedelta(hours=24)
# The status line compares the last 15 minutes with what they should hold.
STATUS_WINDOW = timedelta(minutes=15)
# "Are the reports still elevated now": the span the detector itself looks at when closing.
LATEST_MINUTES = int(CLOSE_RECENT_SPAN / pd.Timedelta(minutes=1))
STATE_LEVELS = {i: Level(name) for i, name in enumerate(STATES)}
# Stored baselines cover the longest chart range.
BASELINE_STORE_SPAN = timedelta(days=8)


@dataclass(frozen=True)
class DetectionResult:
    at: datetime
    series: int
    opened: int
    resolved: int
    active: int


def incident_breakdown_update(*, incident: Incident, until: datetime) -> None:
    """Recompute an incident's affected regions and problems over its whole window."""
    window = window_breakdown(
        service_id=incident.service_id,
        since=incident.started_at,
        until=until,
        country=incident.country,
    )
    reference = window_breakdown(
        service_id=incident.service_id,
        since=incident.started_at - REFERENCE_SPAN,
        until=incident.started_at,
        country=incident.country,
    )
    expected = baseline_totals(
        since=incident.started_at,
        until=until,
        service_id=incident.service_id,
        country=incident.country,
    ).get((incident.service_id, incident.country), 0.0)
    if expected <= 0 and not reference.empty:
        minutes = (until - incident.started_at).total_seconds() / 60
        expected = float(reference["count"].sum()) / (REFERENCE_SPAN.total_seconds() / 60) * minutes
    regions = region_excess(window, reference, expected)
    problems = problem_shares(window)
    incident_set_breakdown(
        incident_id=incident.id,
        regions=[
            {
                "country": r["country"],
                "subdivision": r["subdivision"],
                "reports": int(r["reports"]),
                "expected": round(float(r["expected"]), 1),
                "excess": round(float(r["excess"]), 1),
            }
            for r in regions.to_dict("records")
        ],
        problems=[
            {
                "problem": p["problem"],
                "reports": int(p["reports"]),
                "share": round(float(p["share"]), 3),
            }
            for p in problems.to_dict("records")
        ],
    )


@dataclass
class _KeptGrid:
    history_id: uuid.UUID
    grid: PairGrid
    final_until: int  # epoch seconds: buckets before it cannot change while history_id holds
    rewrite_id: int  # the newest RollupRewrite this grid has read


# Each worker keeps the counts it read on its last pass (30 hours of minutes, 7 weeks of hours:
# millions of rows at thousands of series) and reads again only what the rollup may have
# changed since: the minutes from its watermark less the lateness allowance on, and from the
# earliest old minute a run re-summed since (RollupRewrite: a backlog that arrived late with
# its own observed_at). A new RollupState.history_id (a rewind for a bulk load, a reset) means
# reading everything again.
_kept_grids: dict[str, _KeptGrid] = {}


def _epoch(t: datetime) -> int:
    return int(t.timestamp())


def _counts_grid(
    kind: str,
    *,
    since: datetime,
    until: datetime,
    step: timedelta,
    watermark: tuple[uuid.UUID, datetime] | None,
    final_until: datetime | None,
) -> PairGrid:
    """Counts per (service, country) on the grid [since, until), from the kept grid where it
    is final and from the database for the rest."""
    fetch = minute_pair_rows if kind == "minute" else hour_pair_rows
    start, end, seconds = _epoch(since), _epoch(until), int(step.total_seconds())
    kept = _kept_grids.pop(kind, None)
    # Read after the watermark and before the counts, like it: a rewrite committed later is
    # newer than this id and read on the next pass.
    rewrite_id, rewritten_since = rollup_rewrites(after=kept.rewrite_id if kept else None)
    keep_until = start
    if (
        kept is not None
        and watermark is not None
        and kept.history_id == watermark[0]
        and kept.grid.step == seconds
        and kept.grid.start <= start
    ):
        final = min(kept.final_until, kept.grid.end, end)
        if rewritten_since is not None:
            final = min(final, _epoch(rewritten_since))
        keep_until = max(start, start + (final - start) // seconds * seconds)
    if kept is not None and keep_until == end and kept.grid.start == start:
        grid = kept.grid  # nothing new (the hourly history within the hour)
    else:
        rows = fetch(since=datetime.fromtimestamp(keep_until, tz=UTC), until=until)
        grid = grid_update(
            kept.grid if kept is not None and keep_until > start else None,
            rows,
            start=start,
            buckets=(end - start) // seconds,
            step=seconds,
            keep_until=keep_until,
        )
    if watermark is not None and final_until is not None:
        _kept_grids[kind] = _KeptGrid(watermark[0], grid, _epoch(final_until), rewrite_id)
    return grid


@dataclass(frozen=True)
class _DetectionInput:
    series: list[str]
    service: npt.NDArray[np.int64]
    country: list[str]
    wide: pd.DataFrame  # minutes x series
    history: pd.DataFrame | None  # hours x series


# The series of the hourly history change once an hour: kept with the grid they come from.
_history_series: dict[str, tuple[PairGrid, frozenset[tuple[int, str]], Series]] = {}


def _series_of_history(hours: PairGrid, countries: set[tuple[int, str]]) -> Series:
    key = frozenset(countries)
    kept = _history_series.get("hour")
    if kept is not None and kept[0] is hours and kept[1] == key:
        return kept[2]
    series = grid_series(hours, countries)
    _history_series["hour"] = (hours, key, series)
    return series


def _detection_input(
    minutes: PairGrid, hours: PairGrid, countries: set[tuple[int, str]]
) -> _DetectionInput | None:
    """The minute matrix and hourly history of every series, on the same columns: every
    series seen in either. A series seen in the history but silent for the last 30 hours is
    still a series, with zeros where the minutes have no reports."""
    recent = grid_series(minutes, countries)
    if not recent.labels:
        return None
    older = _series_of_history(hours, countries)
    if recent.labels == older.labels:
        labels, service, country = recent.labels, recent.service, recent.country
        wide, hist = recent.matrix, older.matrix
    else:
        labels = sorted(set(recent.labels) | set(older.labels))
        where = {label: i for i, label in enumerate(labels)}
        service = np.zeros(len(labels), dtype=np.int64)
        country = [""] * len(labels)
        for s in (recent, older):
            for label, sid, cc in zip(s.labels, s.service.tolist(), s.country, strict=True):
                service[where[label]] = sid
                country[where[label]] = cc

        def spread(s: Series) -> npt.NDArray[np.float64]:
            out = np.full((s.matrix.shape[0], len(labels)), np.nan)
            out[:, [where[label] for label in s.labels]] = s.matrix
            return out

        wide, hist = spread(recent), spread(older)
    columns = pd.Index(labels, name="series_id")
    history = None
    if older.labels:
        seen = np.isnan(hist).sum(axis=0) < hist.shape[0]
        np.copyto(wide, 0.0, where=np.isnan(wide) & seen[None, :])
        hours_index = pd.date_range(
            pd.Timestamp(hours.start, unit="s", tz="UTC"), periods=hist.shape[0], freq="1h"
        )
        history = pd.DataFrame(hist, index=hours_index, columns=columns, copy=False)
    index = pd.date_range(
        pd.Timestamp(minutes.start, unit="s", tz="UTC"), periods=wide.shape[0], freq="1min"
    )
    return _DetectionInput(
        series=labels,
        service=service,
        country=country,
        wide=pd.DataFrame(wide, index=index, columns=columns, copy=False),
        history=history,
    )


def recoveries_recent(*, now: datetime) -> dict[tuple[int, str], int]:
    """ "It works again for me" (reports.Recovery) in the status window, for the scopes of the
    incidents open or resolved within CLOSE_QUIET (the detector's memory of a "possible"
    level): what detection_apply weighs against the reports still coming in."""
    since = now - STATUS_WINDOW
    said = {}
    for service_id, country in incident_scopes_recent(since=now - CLOSE_QUIET.to_pytimedelta()):
        counts = recovery_counts(service_id=service_id, since=since, country=country)
        said[(service_id, country)] = sum(counts.values())
    return said


# Records change when a day ends (and, for RECORD_LEAD after midnight, as the day before's last
# buckets settle): each process reads them once per (day, settled) instead of every pass.
_records: dict[str, tuple[tuple[date, bool], pd.DataFrame]] = {}
# The day peaks this process last kept per series: only larger ones are written again.
_peaks_kept: dict[str, tuple[date, dict[str, tuple[float, ...]]]] = {}
_PEAK_FIELDS = tuple(f"peak_{span}" for span in RECORD_SPANS)


def records_forget() -> None:
    """Forget this process's copy of the records and of the day peaks it kept (after the
    table was emptied or restored behind it)."""
    _records.clear()
    _peaks_kept.clear()


def _series_records(at: datetime) -> pd.DataFrame:
    day = at.date()
    settled = at - datetime.combine(day, time_of_day.min, tzinfo=UTC) >= RECORD_LEAD
    key = (day, settled)
    kept = _records.get("records")
    if kept is not None and kept[0] == key:
        return kept[1]
    rows = series_peak_rows(since=day - timedelta(days=RECORD_DAYS), until=day)
    records = records_from_rows(rows)
    _records["records"] = (key, records)
    return records


def series_peaks_keep(*, day: date, peaks: pd.DataFrame) -> int:
    """Keep each series' day peaks (index = series id, ``peak_<span>`` columns), the larger of
    what is kept and these, column by column; returns the rows written. Rows older than the
    records reach are forgotten. Safe with two passes at once: the database takes the larger."""
    kept = _peaks_kept.get("peaks")
    seen = kept[1] if kept is not None and kept[0] == day else {}
    rows: list[tuple[int | str | date | float, ...]] = []
    values = peaks[list(_PEAK_FIELDS)].to_numpy(dtype=np.float64)
    for sid, peak in zip(peaks.index.astype(str), values, strict=True):
        if np.isnan(peak).any():
            continue
        new = tuple(float(v) for v in peak)
        old = seen.get(sid)
        if old is not None and all(n <= o for n, o in zip(new, old, strict=True)):
            continue
        merged = new if old is None else tuple(max(n, o) for n, o in zip(new, old, strict=True))
        seen[sid] = merged
        service_id, country = parse_series_id(sid)
        rows.append((service_id, country, day, *merged))
    _peaks_kept["peaks"] = (day, seen)
    larger = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    table = SeriesPeak._meta.db_table
    columns = ", ".join(_PEAK_FIELDS)
    updates = ", ".join(f"{f} = {larger}({table}.{f}, excluded.{f})" for f in _PEAK_FIELDS)
    marks = ", ".join(["%s"] * (3 + len(_PEAK_FIELDS)))
    with connection.cursor() as cursor:
        if rows:
            cursor.executemany(
                f"INSERT INTO {table} (service_id, country, day, {columns}) VALUES ({marks}) "
                f"ON CONFLICT (service_id, country, day) DO UPDATE SET {updates}",
                rows,
            )
        cursor.execute(
            f"DELETE FROM {table} WHERE day < %s", [day - timedelta(days=RECORD_DAYS + 1)]
        )
    return len(rows)


def detection_run(*, now: datetime | None = None) -> DetectionResult:
    """One detection pass over every service (and busy service-country pair) at once:
    open, update and resolve incidents, and rewrite every service's status."""
    now = now or timezone.now()
    at = floor_minute(now) - timedelta(minutes=1)  # the last complete minute
    since = floor_hour(at - DETECTION_MINUTES)
    countries = busy_countries(
        since=now - timedelta(days=7), min_reports=settings.COUNTRY_SERIES_MIN_REPORTS
    )
    # Read before the counts: whatever the rollup writes later starts at or after this.
    watermark = rollup_watermark(name=ROLLUP)
    settled = watermark[1] - timedelta(seconds=settings.ROLLUP_LATENESS) if watermark else None
    minutes = _counts_grid(
        "minute",
        since=since,
        until=at + timedelta(minutes=1),
        step=timedelta(minutes=1),
        watermark=watermark,
        final_until=floor_minute(settled) if settled else None,
    )
    hours = _counts_grid(
        "hour",
        since=since - DETECTION_HISTORY,
        until=since,
        step=timedelta(hours=1),
        watermark=watermark,
        final_until=floor_hour(settled) if settled else None,
    )
    data = _detection_input(minutes, hours, countries)
    if data is None:
        results = pd.DataFrame(
            columns=["state", "since", "began", "count", "expected", "threshold"]
        )
        data_service: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        data_country: list[str] = []
        recent_sum = np.zeros(0)
        latest_sum = np.zeros(0)
    else:
        results = detect_many(
            data.wide,
            bucket=pd.Timedelta(minutes=1),
            history=data.history,
            records=_series_records(at),
        )
        peaks_day = results["peaks_day"].iloc[0] if len(results) else None
        if peaks_day is not None and not pd.isna(peaks_day):
            series_peaks_keep(day=pd.Timestamp(peaks_day).date(), peaks=results)
        data_service, data_country = data.service, data.country
        last = data.wide.to_numpy()[-int(STATUS_WINDOW / timedelta(minutes=1)) :]
        recent_sum = np.nansum(last, axis=0)
        latest_sum = np.nansum(last[-LATEST_MINUTES:], axis=0)
    expected = np.nan_to_num(results["expected"].to_numpy(dtype=np.float64), nan=0.0)
    reports = results["count"].to_numpy(dtype=np.float64)
    threshold = np.nan_to_num(results["threshold"].to_numpy(dtype=np.float64), nan=0.0)
    # While there are problems, they began where the reports began to rise; an ok state's
    # "since" is only its own start.
    state_since = pd.DatetimeIndex(results["since"])
    began = pd.DatetimeIndex(results["began"])
    started = list(state_since.where(began.isna(), began).to_pydatetime())
    applied = detection_apply(
        at=at,
        now=now,
        recoveries=recoveries_recent(now=now),
        states=[
            SeriesState(
                service_id=int(data_service[i]),
                country=data_country[i],
                level=state,
                since=started[i],
                reports=float(reports[i]),
                expected=float(expected[i]),
                recent=float(recent_sum[i]),
                recent_expected=float(expected[i]) * STATUS_WINDOW.total_seconds() / 60,
                threshold=float(threshold[i]),
                latest=float(latest_sum[i]),
                latest_expected=float(expected[i]) * LATEST_MINUTES,
            )
            for i, state in enumerate(results["state"].astype(str).tolist())
        ],
    )
    # The open incidents' affected regions and problems, over their whole window so far.
    for incident in applied.active:
        incident_breakdown_update(incident=incident, until=at + timedelta(minutes=1))
    # Whole cached pages are keyed by the pass: the next visitor sees what it decided, and
    # whether it is recent.
    detection_pass_mark(at=now)
    return DetectionResult(
        at=at,
        series=len(results),
        opened=applied.opened,
        resolved=applied.resolved,
        active=len(applied.active),
    )


def _baselines_write(
    *,
    service_ids: np.ndarray,
    countries: np.ndarray,
    hours: pd.DatetimeIndex,
    per_minute: np.ndarray,
    computed_at: datetime,
) -> int:
    """Upsert stored baselines; returns the rows given. Each run recomputes every stored hour
    (hundreds of thousands of rows at thousands of series) and most come out unchanged: on
    PostgreSQL they go in as four arrays in one statement, and only changed values are
    rewritten."""
    utc = hours.tz_localize(UTC) if hours.tz is None else hours.tz_convert(UTC)
    if connection.vendor == "postgresql":
        # Array literals built as text: psycopg's adaptation of Python lists took 6 s of a
        # 28 s run at 780,000 rows. Country codes are validated ISO codes or "".
        def literal(items: list[str]) -> str:
            return "{" + ",".join(items) + "}"

        epochs = utc.as_unit("s").asi8.tolist()
        table = Baseline._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {table} (service_id, country, hour, expected, computed_at)
                SELECT s, c, to_timestamp(h), e, %s
                FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::float8[])
                    AS t(s, c, h, e)
                ORDER BY s, c, h
                ON CONFLICT (service_id, country, hour) DO UPDATE
                SET expected = excluded.expected, computed_at = excluded.computed_at
                WHERE {table}.expected IS DISTINCT FROM excluded.expected
                """,
                [
                    computed_at,
                    literal([str(x) for x in service_ids.tolist()]),
                    literal([f'"{c}"' for c in countries.tolist()]),
                    literal([str(x) for x in epochs]),
                    literal([repr(x) for x in per_minute.tolist()]),
                ],
            )
        return len(epochs)
    stamps = list(utc.to_pydatetime())
    Baseline.objects.bulk_create(
        [
            Baseline(service_id=s, country=c, hour=h, expected=e, computed_at=computed_at)
            for s, c, h, e in zip(
                service_ids.tolist(), countries.tolist(), stamps, per_minute.tolist(), strict=True
            )
        ],
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["service", "country", "hour"],
        update_fields=["expected", "computed_at"],
    )
    return len(stamps)


def baseline_run(*, now: datetime | None = None) -> int:
    """Store each series' expected reports per minute for the last BASELINE_STORE_SPAN and the
    current hour (fixed at each hour's start from earlier data only)."""
    now = now or timezone.now()
    current = floor_hour(now)
    countries = busy_countries(
        since=now - timedelta(days=7), min_reports=settings.COUNTRY_SERIES_MIN_REPORTS
    )
    since = current - DETECTION_HISTORY - BASELINE_STORE_SPAN
    rows = hour_series(since=since, until=current + timedelta(hours=1), countries=countries)
    if rows.empty:
        return 0
    index = pd.date_range(pd.Timestamp(since), pd.Timestamp(current), freq="1h")
    wide = to_wide(rows, index)
    expected = baseline_expected(wide, bucket=pd.Timedelta(hours=1))
    keep = expected.loc[pd.Timestamp(current - BASELINE_STORE_SPAN) :]
    long = (
        keep.rename_axis(index="hour", columns="series_id")
        .reset_index()
        .melt(id_vars="hour", var_name="series_id", value_name="expected")
        .dropna(subset=["expected"])
    )
    if long.empty:
        return 0
    parts = long["series_id"].astype(str).str.partition(":")
    written = _baselines_write(
        service_ids=parts[0].astype("int64").to_numpy(),
        countries=parts[2].to_numpy(dtype=object),
        hours=pd.DatetimeIndex(long["hour"]),
        per_minute=long["expected"].to_numpy(dtype=np.float64) / 60.0,
        computed_at=now,
    )
    Baseline.objects.filter(hour__lt=current - BASELINE_STORE_SPAN).delete()
    return written


def incidents_backfill(*, since: datetime, until: datetime) -> int:
    """Replay detection over stored minute counts and record the incidents it would have
    opened and closed (a new site, or history imported in bulk). Runs still open at `until`
    are left to the live task. Safe to rerun: an incident with the same start is kept."""
    countries = busy_countries(
        since=until - timedelta(days=7), min_reports=settings.COUNTRY_SERIES_MIN_REPORTS
    )
    start = floor_hour(since)
    end = floor_minute(until)
    counts = minute_series(since=start, until=end, countries=countries)
    if counts.empty:
        return 0
    history = hour_series(since=start - DETECTION_HISTORY, until=start, countries=countries)
    step = pd.Timedelta(minutes=1)
    index = pd.date_range(pd.Timestamp(start), pd.Timestamp(end) - step, freq=step)
    wide = to_wide(counts, index)
    hist_wide = None
    if not history.empty:
        hist_index = pd.date_range(
            pd.Timestamp(start - DETECTION_HISTORY),
            pd.Timestamp(start),
            freq="1h",
            inclusive="left",
        )
        hist_wide = to_wide(history, hist_index).reindex(columns=wide.columns)
        # Series already seen in the history: silence at the window's start is real.
        seen = hist_wide.notna().any()
        wide.loc[:, seen] = wide.loc[:, seen].fillna(0.0)
    frames = detect_frames(wide, bucket=step, history=hist_wide)
    state = frames.state.to_numpy()
    counts_m = frames.counts.to_numpy()
    expected_m = np.nan_to_num(frames.expected.to_numpy())
    longest = max(window_lengths(grid_for(step)))
    created = 0
    for j, sid in enumerate(wide.columns):
        service_id, country = parse_series_id(str(sid))
        active = state[:, j] > 0
        if not active.any():
            continue
        edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
        for first_np, stop_np in zip(
            np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True
        ):
            first, stop = int(first_np), int(stop_np)
            if stop >= len(index):
                continue  # still open: the live task owns it
            peak = int(np.argmax(counts_m[first:stop, j])) + first
            ended_at = pd.Timestamp(index[stop]).to_pydatetime()
            rose = int(
                rise_start(
                    counts_m[:, j : j + 1],
                    expected_m[:, j : j + 1],
                    np.array([first], dtype=np.intp),
                    longest,
                )[0]
            )
            incident = incident_record_past(
                service_id=service_id,
                country=country,
                started_at=pd.Timestamp(index[rose]).to_pydatetime(),
                ended_at=ended_at,
                max_level=STATE_LEVELS[int(state[first:stop, j].max())],
                peak_at=pd.Timestamp(index[peak]).to_pydatetime(),
                peak_reports=float(counts_m[peak, j]),
                peak_expected=float(expected_m[peak, j]),
            )
            if incident is not None:
                created += 1
                incident_breakdown_update(incident=incident, until=ended_at)
    return created
