"""Simulated report traffic for the demo site: a few weeks of history and a live trickle.

Pure numpy/pandas, no database: the same seed and window always give the same reports, so the
model can be tested on its own and the seed command and the Celery task only have to store rows.

The model, per service and minute: the catalogue's `popularity` (reports per minute at the
global daily peak) times the share of each country in the service's audience, times that
country's local daily and weekly rhythm, times a mild growth trend, times gamma noise (a slow
hourly wobble shared by all countries and a per-minute one), drawn as Poisson counts. The gamma
mixing makes the counts negative-binomial: real report streams are burstier than Poisson.
Outages add their own reports on top, shaped by a ramp up, a plateau and a decay.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd

from demo.population import (
    CATEGORY_PROFILES,
    COMMENTS,
    COUNTRIES,
    COUNTRY_CODES,
    COUNTRY_INDEX,
    COUNTRY_LANGUAGE,
    LOCAL_COMMENTS,
    MARKETS,
    PROFILES,
    SERVICE_PROFILES,
    TILTS,
    Profile,
)
from outages.catalogue import CATALOGUE, Entry

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_SEED = 20240917
# Fourteen days of the whole catalogue come to roughly 430k reports at this scale: enough for
# busy charts, small enough for SQLite to load in seconds.
DEFAULT_SCALE = 0.3
GROWTH_PER_DAY = 0.007  # the site slowly gains audience: about +10% over two weeks
SLOW_NOISE_SHAPE = 12.0  # hourly gamma wobble, CV ~0.29
MINUTE_NOISE_SHAPE = 4.0  # per-minute gamma noise, CV 0.5
OUTAGE_NOISE_SHAPE = 6.0
WEB_SHARE = 0.83  # the rest arrive through partner apps on the API
COMMENT_RATE = 0.03
OUTAGE_COMMENT_RATE = 0.1  # people vent more when something is actually broken
OUTAGE_SUBDIVISION_RATE = 0.85  # people check "is it just my area?" during an outage

COLUMNS = (
    "service_slug",
    "problem",
    "country",
    "subdivision",
    "created_at",
    "client_key",
    "source",
    "comment",
)

MINUTE_US = 60_000_000
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US


class InjectedOutage(NamedTuple):
    """An injected incident: the service's reports are multiplied by up to `factor` between
    `start` and `end` (UTC), worldwide or in one country only."""

    service: str
    country: str | None
    start: datetime
    end: datetime
    factor: float
    problems: tuple[tuple[str, float], ...]  # the dominant problems and their share
    summary: str


def planned_outages(*, start: datetime, end: datetime) -> list[InjectedOutage]:
    """The incidents of the demo history, placed relative to the UTC day of `end` so that the
    history always ends a day or two after the big one; only those inside the window."""
    day = datetime(end.year, end.month, end.day, tzinfo=UTC)

    def at(days_ago: int, hh: int, mm: int, *, weekday: bool = False) -> datetime:
        moment = day - timedelta(days=days_ago) + timedelta(hours=hh, minutes=mm)
        # A work tool's outage on a Sunday would go unnoticed; move it back to a Friday.
        while weekday and moment.weekday() >= 5:
            moment -= timedelta(days=1)
        return moment

    plan = [
        InjectedOutage(
            "whatsapp",
            None,
            at(2, 14, 5),
            at(2, 14, 5) + timedelta(minutes=95),
            30.0,
            (("messaging", 0.55), ("connection", 0.3)),
            "WhatsApp messages not sending worldwide",
        ),
        InjectedOutage(
            "tiktok",
            "BR",
            at(4, 22, 20),
            at(4, 22, 20) + timedelta(minutes=65),
            35.0,
            (("upload", 0.7), ("app", 0.12)),
            "TikTok uploads failing in Brazil",
        ),
        InjectedOutage(
            "github",
            None,
            at(5, 15, 10, weekday=True),
            at(5, 15, 10, weekday=True) + timedelta(minutes=40),
            25.0,
            (("deploys", 0.55), ("website", 0.25)),
            "GitHub Actions and pages degraded",
        ),
        InjectedOutage(
            "comcast-xfinity",
            "US",
            at(9, 1, 30),
            at(9, 1, 30) + timedelta(minutes=120),
            15.0,
            (("internet", 0.65), ("website", 0.1)),
            "Xfinity home internet down in the evening (US)",
        ),
    ]
    return [o for o in plan if o.start >= start and o.end <= end]


def history_windows(*, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into day-long windows, oldest first: the units the seed command
    generates and stores one at a time."""
    windows = []
    while start < end:
        windows.append((start, min(start + timedelta(days=1), end)))
        start += timedelta(days=1)
    return windows


def demo_history(
    *,
    end: datetime,
    days: int = 14,
    seed: int = DEFAULT_SEED,
    scale: float = DEFAULT_SCALE,
) -> tuple[pd.DataFrame, list[InjectedOutage]]:
    """`days` of simulated reports up to `end`, with the planned outages in them."""
    start = end - timedelta(days=days)
    outages = planned_outages(start=start, end=end)
    frames = [
        simulate_reports(
            start=lo, end=hi, seed=seed, scale=scale, outages=outages, trend_anchor=end
        )
        for lo, hi in history_windows(start=start, end=end)
    ]
    return pd.concat(frames, ignore_index=True), outages


def trickle_reports(
    *,
    now: datetime,
    seconds: float,
    seed: int = DEFAULT_SEED,
    scale: float = DEFAULT_SCALE,
    bursts: Sequence[InjectedOutage] = (),
) -> pd.DataFrame:
    """The reports of the `seconds` before `now`, from the same model as the history."""
    return simulate_reports(
        start=now - timedelta(seconds=seconds),
        end=now,
        seed=seed,
        scale=scale,
        outages=bursts,
        trend_anchor=now,
    )


def parse_burst(spec: str, *, start: datetime) -> InjectedOutage | None:
    """A live burst from "slug[:COUNTRY][:factor][:minutes]", e.g. "tiktok:BR:30:45", starting
    at `start`; None when the spec is empty. Raises ValueError for a spec it cannot read."""
    parts = [p.strip() for p in spec.split(":")]
    if not parts[0]:
        return None
    entry = _entries().get(parts[0].lower())
    if entry is None:
        raise ValueError(f"unknown service {parts[0]!r} in demo burst")
    country = None
    rest = parts[1:]
    if rest and rest[0].isalpha():
        country = rest.pop(0).upper()
        if country not in COUNTRY_INDEX:
            raise ValueError(f"country {country!r} is not in the demo audience")
    factor = float(rest[0]) if rest else 25.0
    minutes = float(rest[1]) if len(rest) > 1 else 45.0
    if factor <= 1 or minutes <= 0:
        raise ValueError("a demo burst needs a factor above 1 and a positive duration")
    where = f" in {country}" if country else ""
    return InjectedOutage(
        entry.slug,
        country,
        start,
        start + timedelta(minutes=minutes),
        factor,
        ((entry.problems[0], 0.7),),
        f"{entry.name} live burst{where}",
    )


def simulate_reports(
    *,
    start: datetime,
    end: datetime,
    seed: int = DEFAULT_SEED,
    scale: float = DEFAULT_SCALE,
    outages: Iterable[InjectedOutage] = (),
    trend_anchor: datetime | None = None,
) -> pd.DataFrame:
    """Simulated reports with created_at in [start, end), sorted by time. The growth trend is
    1 at `trend_anchor` (default `end`): the history's end, or now for the live trickle."""
    start_us = _to_us(start)
    end_us = _to_us(end)
    outages = list(outages)
    if end_us <= start_us:
        return _empty_frame()
    bins = np.arange(start_us // MINUTE_US * MINUTE_US, end_us, MINUTE_US, dtype=np.int64)
    lo = np.maximum(bins, start_us) - bins
    hi = np.minimum(bins + MINUTE_US, end_us) - bins
    exposure = (hi - lo) / MINUTE_US
    mid = bins + (lo + hi) // 2
    anchor_us = _to_us(trend_anchor) if trend_anchor is not None else end_us
    trend = np.exp(GROWTH_PER_DAY * (mid - anchor_us) / DAY_US)
    local = _local_times(mid)
    rhythm = {name: _rhythm(local, profile) for name, profile in PROFILES.items()}
    slow = _slow_noise(mid, seed=seed)
    # Keyed by the window so that each day of history or tick of the trickle is reproducible.
    rng = np.random.default_rng([seed, start_us // 1000])

    parts: list[_Part] = []
    for index, entry in enumerate(CATALOGUE):
        weights = _market(entry.slug)[:, None] * rhythm[_profile(entry)]
        level = entry.popularity * scale / _peak(entry.slug) * trend * slow[index] * exposure
        noise = rng.gamma(MINUTE_NOISE_SHAPE, 1 / MINUTE_NOISE_SHAPE, len(bins))
        lam = level * weights.sum(axis=0) * noise
        counts = rng.poisson(lam)
        if counts.any():
            parts.append(_part(rng, entry, counts, weights, bins, lo, hi, outage=None))
        for outage in [o for o in outages if o.service == entry.slug]:
            envelope = _envelope(mid, outage)
            if not envelope.any():
                continue
            if outage.country is not None:
                mask = np.zeros(len(COUNTRY_CODES))
                mask[COUNTRY_INDEX[outage.country]] = 1.0
                where = weights * mask[:, None]
            else:
                where = weights
            extra = level * where.sum(axis=0) * (outage.factor - 1) * envelope
            extra *= rng.gamma(OUTAGE_NOISE_SHAPE, 1 / OUTAGE_NOISE_SHAPE, len(bins))
            counts = rng.poisson(extra)
            if counts.any():
                parts.append(_part(rng, entry, counts, where, bins, lo, hi, outage=outage))
    if not parts:
        return _empty_frame()
    return _frame_of(parts, rng=rng)


class _Part(NamedTuple):
    entry: Entry
    created_us: IntArray
    country: npt.NDArray[np.intp]
    problem: npt.NDArray[np.intp]
    in_outage: bool


def _part(
    rng: np.random.Generator,
    entry: Entry,
    counts: IntArray,
    weights: FloatArray,
    bins: IntArray,
    lo: IntArray,
    hi: IntArray,
    *,
    outage: InjectedOutage | None,
) -> _Part:
    minute = np.repeat(np.arange(len(bins)), counts)
    created = (
        bins[minute] + lo[minute] + (rng.random(len(minute)) * (hi - lo)[minute]).astype(np.int64)
    )
    # Inverse-CDF draw of each report's country from its minute's country weights: with the
    # minute index added, the per-minute CDFs form one ascending array to binary-search.
    # 1 - u keeps the draw off zero so a country with no audience is never picked.
    total = weights.sum(axis=0)
    cdf = np.cumsum(weights, axis=0) / np.where(total > 0, total, 1.0)
    flat = (cdf + np.arange(len(bins))).T.ravel()
    target = minute + (1.0 - rng.random(len(minute)))
    country = np.searchsorted(flat, target) - minute * len(weights)
    country = np.minimum(country, len(weights) - 1)
    problem_p = _problem_weights(entry.problems, outage)
    problem = rng.choice(len(entry.problems), size=len(minute), p=problem_p)
    return _Part(entry, created, country, problem, outage is not None)


def _empty_frame() -> pd.DataFrame:
    empty = {c: pd.Series([], dtype="str") for c in COLUMNS}
    empty["created_at"] = pd.Series([], dtype="datetime64[us, UTC]")
    return pd.DataFrame(empty, columns=list(COLUMNS))


def _frame_of(parts: Sequence[_Part], *, rng: np.random.Generator) -> pd.DataFrame:
    created = np.concatenate([p.created_us for p in parts])
    country_idx = np.concatenate([p.country for p in parts])
    in_outage = np.concatenate([np.full(len(p.created_us), p.in_outage) for p in parts])
    slugs = np.concatenate([np.full(len(p.created_us), p.entry.slug, dtype=object) for p in parts])
    problems = np.concatenate(
        [np.asarray(p.entry.problems, dtype=object)[p.problem] for p in parts]
    )
    countries = np.asarray(COUNTRY_CODES, dtype=object)[country_idx]
    n = len(created)
    subdivision = _subdivisions(rng, country_idx, in_outage)
    source = np.asarray(["api", "web"], dtype=object)[(rng.random(n) < WEB_SHARE).astype(np.intp)]
    comment = _comments(rng, slugs, problems, countries, in_outage)
    hexed = rng.bytes(16 * n).hex()
    keys = np.array([hexed[i : i + 32] for i in range(0, 32 * n, 32)], dtype=object)
    frame = pd.DataFrame(
        {
            "service_slug": slugs,
            "problem": problems,
            "country": countries,
            "subdivision": subdivision,
            "created_at": pd.to_datetime(created, unit="us", utc=True),
            "client_key": keys,
            "source": source,
            "comment": comment,
        },
        columns=list(COLUMNS),
    )
    return frame.sort_values("created_at", kind="stable", ignore_index=True)


def _subdivisions(
    rng: np.random.Generator, country_idx: npt.NDArray[np.intp], in_outage: npt.NDArray[np.bool_]
) -> npt.NDArray[np.object_]:
    result = np.full(len(country_idx), "", dtype=object)
    u = rng.random(len(country_idx))
    for index, country in enumerate(COUNTRIES):
        if not country.subdivisions:
            continue
        during = max(country.subdivision_rate, OUTAGE_SUBDIVISION_RATE)
        rate = np.where(in_outage, during, country.subdivision_rate)
        chosen = (country_idx == index) & (u < rate)
        codes = np.asarray([code for code, _ in country.subdivisions], dtype=object)
        population = np.asarray([pop for _, pop in country.subdivisions])
        result[chosen] = rng.choice(codes, size=int(chosen.sum()), p=population / population.sum())
    return result


def _comments(
    rng: np.random.Generator,
    slugs: npt.NDArray[np.object_],
    problems: npt.NDArray[np.object_],
    countries: npt.NDArray[np.object_],
    in_outage: npt.NDArray[np.bool_],
) -> npt.NDArray[np.object_]:
    result = np.full(len(slugs), "", dtype=object)
    rate = np.where(in_outage, OUTAGE_COMMENT_RATE, COMMENT_RATE)
    chosen = np.flatnonzero(rng.random(len(slugs)) < rate)
    local = rng.random(len(chosen)) < 0.5
    picks = rng.random(len(chosen))
    for i, index in enumerate(chosen):
        language = COUNTRY_LANGUAGE.get(str(countries[index]))
        options = COMMENTS[str(problems[index])]
        if language and local[i]:
            options = LOCAL_COMMENTS[language]
        result[index] = options[int(picks[i] * len(options))]
    return result


def _to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("demo times must be timezone-aware")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@cache
def _entries() -> dict[str, Entry]:
    return {e.slug: e for e in CATALOGUE}


def _profile(entry: Entry) -> str:
    return SERVICE_PROFILES.get(entry.slug) or CATEGORY_PROFILES.get(entry.category, "leisure")


@cache
def _market(slug: str) -> FloatArray:
    if slug in MARKETS:
        shares = np.array([MARKETS[slug].get(code, 0.0) for code in COUNTRY_CODES])
    else:
        tilt = TILTS.get(slug, {})
        shares = np.array([c.weight * tilt.get(c.code, 1.0) for c in COUNTRIES])
    shares = shares / shares.sum()
    # Cached and shared between calls: make accidental in-place edits fail loudly.
    shares.setflags(write=False)
    return shares


@cache
def _peak(slug: str) -> float:
    """The service's global daily peak of country-weighted activity over a reference week,
    so that `popularity` means reports per minute at the busiest time of day."""
    weights = _market(slug)[:, None] * _reference_rhythms()[_profile(_entries()[slug])]
    return float(weights.sum(axis=0).max())


@cache
def _reference_rhythms() -> dict[str, FloatArray]:
    start = _to_us(datetime(2024, 3, 4, tzinfo=UTC))  # a Monday clear of DST changes
    grid = np.arange(start, start + 7 * DAY_US, 10 * MINUTE_US, dtype=np.int64)
    local = _local_times(grid)
    return {name: _rhythm(local, profile) for name, profile in PROFILES.items()}


LocalTimes = list[list[tuple[float, IntArray]]]


def _local_times(moments_us: IntArray) -> LocalTimes:
    """For each country, (share of its users, local wall-clock time in µs) per time zone."""
    return [
        [
            (share, moments_us + _utc_offsets_us(moments_us, zone, offset))
            for zone, share, offset in c.zones
        ]
        for c in COUNTRIES
    ]


def _rhythm(local: LocalTimes, profile: Profile) -> FloatArray:
    """Activity of each country (rows) at each moment (columns) by its people's local time."""
    hourly = np.asarray(profile.hourly)
    weekly = np.asarray(profile.weekly)
    result = np.zeros((len(local), len(local[0][0][1])))
    for row, zones in enumerate(local):
        for share, local_us in zones:
            hour = (local_us % DAY_US) / HOUR_US
            whole = hour.astype(np.int64)
            frac = hour - whole
            day_curve = hourly[whole] * (1 - frac) + hourly[(whole + 1) % 24] * frac
            # 1970-01-01 was a Thursday; weekday 0 is Monday.
            weekday = (local_us // DAY_US + 3) % 7
            result[row] += share * day_curve * weekly[weekday]
    return result


def _utc_offsets_us(moments_us: IntArray, zone: str, standard_hours: float) -> IntArray:
    try:
        tz = ZoneInfo(zone)
    except ZoneInfoNotFoundError:
        # Without a time-zone database standard time is close enough for a demo.
        return np.full(len(moments_us), int(standard_hours * HOUR_US), dtype=np.int64)
    # Offsets only change at DST transitions, so look them up once an hour and spread.
    hours = moments_us // HOUR_US
    unique_hours, inverse = np.unique(hours, return_inverse=True)
    offsets = np.empty(len(unique_hours), dtype=np.int64)
    for i, h in enumerate(unique_hours):
        moment = datetime.fromtimestamp(int(h) * 3600, tz=tz)
        offset = moment.utcoffset()
        offsets[i] = int(offset.total_seconds() * 1_000_000) if offset is not None else 0
    return offsets[inverse]


def _slow_noise(moments_us: IntArray, *, seed: int) -> FloatArray:
    """An hourly gamma wobble per service, interpolated between hours. Drawn from a generator
    keyed by the hour itself so the history and the live trickle agree where they meet."""
    hour = moments_us / HOUR_US
    first = int(np.floor(hour.min()))
    last = int(np.floor(hour.max())) + 1
    knots = np.array(
        [
            np.random.default_rng([seed, 7, h]).gamma(
                SLOW_NOISE_SHAPE, 1 / SLOW_NOISE_SHAPE, len(CATALOGUE)
            )
            for h in range(first, last + 1)
        ]
    )  # (hours, services)
    position = hour - first
    whole = np.minimum(position.astype(np.int64), len(knots) - 2)
    frac = (position - whole)[None, :]
    return knots[whole].T * (1 - frac) + knots[whole + 1].T * frac


def _envelope(moments_us: IntArray, outage: InjectedOutage) -> FloatArray:
    """0..1 over the outage: reports climb within minutes as people notice, ease off as those
    affected have already reported, and fall away once the fix lands (last quarter)."""
    start = _to_us(outage.start)
    duration = _to_us(outage.end) - start
    progress = (moments_us - start) / duration
    inside = (progress >= 0) & (progress < 1)
    rise = 1 - np.exp(-np.clip(progress, 0, None) / 0.06)
    decay = np.exp(-np.clip(progress - 0.72, 0, None) / 0.09)
    fatigue = 1 - 0.3 * np.clip(progress, 0, 1)
    return np.where(inside, rise * decay * fatigue, 0.0)


def _problem_weights(problems: Sequence[str], outage: InjectedOutage | None) -> FloatArray:
    """People pick the first listed problems far more often; "other" is a last resort."""
    base = np.array([0.58**i for i in range(len(problems))])
    base[[i for i, p in enumerate(problems) if p == "other"]] *= 0.5
    base /= base.sum()
    if outage is None:
        return base
    dominant = np.array([dict(outage.problems).get(p, 0.0) for p in problems])
    rest = base * (dominant == 0)
    remaining = max(0.0, 1.0 - dominant.sum())
    mixed = dominant + (rest / rest.sum() * remaining if rest.sum() else 0.0)
    return np.asarray(mixed / mixed.sum(), dtype=np.float64)
