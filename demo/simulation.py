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


class Country(NamedTuple):
    code: str
    weight: float  # rough share of the site's audience
    # (IANA zone, share of the country's users, standard UTC offset in hours used when the
    # machine has no time-zone database)
    zones: tuple[tuple[str, float, float], ...]
    subdivision_rate: float = 0.0
    subdivisions: tuple[tuple[str, float], ...] = ()  # code, population in millions


# fmt: off
# Hand-aligned population tables: easier to check against a census than one per line.
US_STATES = (
    ("US-CA", 39.0), ("US-TX", 30.0), ("US-FL", 22.6), ("US-NY", 19.6), ("US-PA", 13.0),
    ("US-IL", 12.5), ("US-OH", 11.8), ("US-GA", 11.0), ("US-NC", 10.8), ("US-MI", 10.0),
    ("US-NJ", 9.3), ("US-VA", 8.7), ("US-WA", 7.8), ("US-AZ", 7.4), ("US-TN", 7.1),
    ("US-MA", 7.0), ("US-IN", 6.8), ("US-MO", 6.2), ("US-MD", 6.2), ("US-WI", 5.9),
    ("US-CO", 5.9), ("US-MN", 5.7), ("US-SC", 5.3), ("US-AL", 5.1), ("US-LA", 4.6),
    ("US-KY", 4.5), ("US-OR", 4.2), ("US-OK", 4.0), ("US-CT", 3.6), ("US-UT", 3.4),
    ("US-IA", 3.2), ("US-NV", 3.2), ("US-AR", 3.0), ("US-MS", 2.9), ("US-KS", 2.9),
    ("US-NM", 2.1), ("US-NE", 2.0), ("US-ID", 2.0), ("US-WV", 1.8), ("US-HI", 1.4),
    ("US-NH", 1.4), ("US-ME", 1.4), ("US-MT", 1.1), ("US-RI", 1.1), ("US-DE", 1.0),
    ("US-SD", 0.9), ("US-ND", 0.8), ("US-AK", 0.7), ("US-DC", 0.7), ("US-VT", 0.65),
    ("US-WY", 0.58),
)
BR_STATES = (
    ("BR-SP", 46.0), ("BR-MG", 20.5), ("BR-RJ", 16.0), ("BR-BA", 14.0), ("BR-PR", 11.4),
    ("BR-RS", 10.9), ("BR-PE", 9.0), ("BR-CE", 8.8), ("BR-PA", 8.1), ("BR-SC", 7.6),
    ("BR-GO", 7.0), ("BR-MA", 6.8), ("BR-PB", 4.0), ("BR-AM", 3.9), ("BR-ES", 3.8),
    ("BR-MT", 3.7), ("BR-RN", 3.3), ("BR-PI", 3.3), ("BR-AL", 3.1), ("BR-DF", 2.8),
    ("BR-MS", 2.8), ("BR-SE", 2.2), ("BR-RO", 1.6), ("BR-TO", 1.5), ("BR-AC", 0.8),
    ("BR-AP", 0.7), ("BR-RR", 0.6),
)
IN_STATES = (
    ("IN-UP", 200.0), ("IN-MH", 124.0), ("IN-BR", 104.0), ("IN-WB", 99.0), ("IN-MP", 85.0),
    ("IN-RJ", 79.0), ("IN-TN", 77.0), ("IN-GJ", 70.0), ("IN-KA", 67.0), ("IN-AP", 53.0),
    ("IN-OD", 46.0), ("IN-TS", 38.0), ("IN-JH", 38.0), ("IN-KL", 35.0), ("IN-AS", 35.0),
    ("IN-PB", 30.0), ("IN-HR", 28.0), ("IN-CG", 29.0), ("IN-DL", 19.0), ("IN-UK", 11.0),
)
DE_STATES = (
    ("DE-NW", 18.0), ("DE-BY", 13.2), ("DE-BW", 11.1), ("DE-NI", 8.0), ("DE-HE", 6.3),
    ("DE-SN", 4.1), ("DE-RP", 4.1), ("DE-BE", 3.7), ("DE-SH", 2.9), ("DE-BB", 2.5),
    ("DE-ST", 2.2), ("DE-TH", 2.1), ("DE-HH", 1.9), ("DE-MV", 1.6), ("DE-SL", 1.0),
    ("DE-HB", 0.7),
)
GB_NATIONS = (("GB-ENG", 56.5), ("GB-SCT", 5.4), ("GB-WLS", 3.1), ("GB-NIR", 1.9))
CA_PROVINCES = (
    ("CA-ON", 15.6), ("CA-QC", 8.9), ("CA-BC", 5.6), ("CA-AB", 4.8), ("CA-MB", 1.4),
    ("CA-SK", 1.2), ("CA-NS", 1.0), ("CA-NB", 0.8), ("CA-NL", 0.5), ("CA-PE", 0.17),
)
AU_STATES = (
    ("AU-NSW", 8.3), ("AU-VIC", 6.8), ("AU-QLD", 5.5), ("AU-WA", 2.9), ("AU-SA", 1.9),
    ("AU-TAS", 0.57), ("AU-ACT", 0.47), ("AU-NT", 0.25),
)
# fmt: on

COUNTRIES: tuple[Country, ...] = (
    Country(
        "US",
        30.0,
        (
            ("America/New_York", 0.47, -5),
            ("America/Chicago", 0.29, -6),
            ("America/Denver", 0.07, -7),
            ("America/Los_Angeles", 0.17, -8),
        ),
        0.75,
        US_STATES,
    ),
    Country("IN", 9.0, (("Asia/Kolkata", 1.0, 5.5),), 0.55, IN_STATES),
    Country(
        "BR",
        8.0,
        (("America/Sao_Paulo", 0.9, -3), ("America/Manaus", 0.1, -4)),
        0.7,
        BR_STATES,
    ),
    Country("GB", 7.0, (("Europe/London", 1.0, 0),), 0.6, GB_NATIONS),
    Country("DE", 5.0, (("Europe/Berlin", 1.0, 1),), 0.6, DE_STATES),
    Country("FR", 4.0, (("Europe/Paris", 1.0, 1),)),
    Country("MX", 4.0, (("America/Mexico_City", 1.0, -6),)),
    Country("JP", 3.5, (("Asia/Tokyo", 1.0, 9),)),
    Country(
        "CA",
        3.5,
        (
            ("America/Toronto", 0.6, -5),
            ("America/Vancouver", 0.25, -8),
            ("America/Edmonton", 0.15, -7),
        ),
        0.7,
        CA_PROVINCES,
    ),
    Country("IT", 3.0, (("Europe/Rome", 1.0, 1),)),
    Country("ES", 3.0, (("Europe/Madrid", 1.0, 1),)),
    Country(
        "AU",
        2.5,
        (
            ("Australia/Sydney", 0.6, 10),
            ("Australia/Brisbane", 0.2, 10),
            ("Australia/Perth", 0.1, 8),
            ("Australia/Adelaide", 0.1, 9.5),
        ),
        0.7,
        AU_STATES,
    ),
    Country("ID", 2.0, (("Asia/Jakarta", 1.0, 7),)),
    Country("NL", 1.8, (("Europe/Amsterdam", 1.0, 1),)),
    Country("PL", 1.6, (("Europe/Warsaw", 1.0, 1),)),
    Country("PH", 1.5, (("Asia/Manila", 1.0, 8),)),
    Country("TR", 1.5, (("Europe/Istanbul", 1.0, 3),)),
    Country("AR", 1.2, (("America/Argentina/Buenos_Aires", 1.0, -3),)),
    Country("CO", 1.0, (("America/Bogota", 1.0, -5),)),
    Country("KR", 1.0, (("Asia/Seoul", 1.0, 9),)),
    Country("SE", 0.8, (("Europe/Stockholm", 1.0, 1),)),
    Country("ZA", 0.8, (("Africa/Johannesburg", 1.0, 2),)),
    Country("BE", 0.6, (("Europe/Brussels", 1.0, 1),)),
    Country("NG", 0.6, (("Africa/Lagos", 1.0, 1),)),
    Country("PK", 0.6, (("Asia/Karachi", 1.0, 5),)),
    Country("SA", 0.6, (("Asia/Riyadh", 1.0, 3),)),
    Country("CL", 0.6, (("America/Santiago", 1.0, -4),)),
    Country("PT", 0.5, (("Europe/Lisbon", 1.0, 0),)),
    Country("EG", 0.5, (("Africa/Cairo", 1.0, 2),)),
    Country("IE", 0.4, (("Europe/Dublin", 1.0, 0),)),
    Country("AE", 0.4, (("Asia/Dubai", 1.0, 4),)),
    Country("CH", 0.4, (("Europe/Zurich", 1.0, 1),)),
    Country("AT", 0.4, (("Europe/Vienna", 1.0, 1),)),
    Country("NZ", 0.3, (("Pacific/Auckland", 1.0, 12),)),
)
COUNTRY_CODES = tuple(c.code for c in COUNTRIES)
COUNTRY_INDEX = {code: i for i, code in enumerate(COUNTRY_CODES)}

# Where a service's audience differs from the site's overall mix: carriers, banks and some
# streamers only exist in a few countries.
# fmt: off
MARKETS: dict[str, dict[str, float]] = {
    "verizon": {"US": 1.0},
    "comcast-xfinity": {"US": 1.0},
    "bank-of-america": {"US": 1.0},
    "hulu": {"US": 1.0},
    "att": {"US": 0.95, "MX": 0.05},
    "t-mobile": {"US": 0.92, "DE": 0.04, "NL": 0.02, "PL": 0.01, "AT": 0.01},
    "chase": {"US": 0.96, "GB": 0.04},
    "bt": {"GB": 1.0},
    "vodafone": {
        "GB": 0.27, "DE": 0.24, "IT": 0.12, "ES": 0.1, "TR": 0.07, "NL": 0.05, "PT": 0.04,
        "IE": 0.04, "EG": 0.03, "ZA": 0.04,
    },
    "revolut": {
        "GB": 0.4, "FR": 0.1, "DE": 0.1, "IE": 0.08, "ES": 0.08, "IT": 0.08, "PL": 0.08,
        "NL": 0.04, "PT": 0.04,
    },
}
# fmt: on
# Services used everywhere but much more in some places than the overall mix suggests.
TILTS: dict[str, dict[str, float]] = {
    "whatsapp": {"US": 0.35, "IN": 3.0, "BR": 2.5, "MX": 2.0, "DE": 1.5, "ES": 1.8, "ID": 2.0},
    "tiktok": {"BR": 1.6, "ID": 2.0, "PH": 1.8, "MX": 1.4},
    "telegram": {"IN": 2.0, "BR": 1.5, "TR": 2.0, "US": 0.4},
    "x": {"US": 1.3, "JP": 2.5, "GB": 1.3},
    "reddit": {"US": 1.6, "GB": 1.3, "CA": 1.5, "AU": 1.3, "IN": 0.6, "BR": 0.5},
    "snapchat": {"US": 1.4, "GB": 1.4, "FR": 1.8, "SA": 2.5, "IN": 0.5},
    "league-of-legends": {"KR": 3.0, "BR": 1.3, "US": 0.6},
    "nintendo-switch-online": {"JP": 3.0},
    "prime-video": {"IN": 1.6, "US": 1.3},
    "amazon": {"US": 1.5, "DE": 1.6, "GB": 1.4, "JP": 1.3},
    "paypal": {"US": 1.3, "DE": 2.0, "GB": 1.4},
}


class Profile(NamedTuple):
    hourly: tuple[float, ...]  # relative activity at each local hour, 0..23
    weekly: tuple[float, ...]  # relative activity Monday..Sunday


# fmt: off
PROFILES: dict[str, Profile] = {
    # Entertainment, social and home internet: quiet at night, busiest in the evening, a bit
    # busier at weekends.
    "leisure": Profile(
        (
            0.45, 0.3, 0.2, 0.14, 0.11, 0.12, 0.2, 0.32, 0.42, 0.5, 0.55, 0.6,
            0.66, 0.66, 0.64, 0.66, 0.72, 0.8, 0.88, 0.95, 1.0, 0.98, 0.85, 0.65,
        ),
        (0.97, 0.95, 0.96, 0.98, 1.03, 1.14, 1.1),
    ),
    # Work tools: office hours on weekdays, a sliver at weekends.
    "work": Profile(
        (
            0.08, 0.05, 0.04, 0.04, 0.05, 0.1, 0.2, 0.4, 0.75, 0.95, 1.0, 0.97,
            0.85, 0.92, 0.95, 0.9, 0.8, 0.6, 0.42, 0.32, 0.26, 0.2, 0.15, 0.1,
        ),
        (1.05, 1.03, 1.0, 1.0, 0.93, 0.32, 0.28),
    ),
    # Mail, shopping and banking: errands through the day into the early evening.
    "daytime": Profile(
        (
            0.18, 0.1, 0.07, 0.05, 0.05, 0.08, 0.18, 0.35, 0.55, 0.72, 0.85, 0.92,
            0.95, 0.92, 0.9, 0.9, 0.92, 0.95, 0.97, 1.0, 0.95, 0.8, 0.55, 0.32,
        ),
        (1.03, 1.0, 1.0, 1.0, 1.02, 0.92, 0.85),
    ),
}
# fmt: on
CATEGORY_PROFILES = {
    "social": "leisure",
    "video_music": "leisure",
    "messaging": "leisure",
    "gaming": "leisure",
    "telecom": "leisure",
    "cloud_dev": "work",
    "email_productivity": "daytime",
    "shopping_payments": "daytime",
}
SERVICE_PROFILES = {
    "slack": "work",
    "zoom": "work",
    "microsoft-teams": "work",
    "microsoft-365": "work",
    "chatgpt": "daytime",
}


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


COMMENTS: dict[str, tuple[str, ...]] = {
    "login": (
        "Can't log in, it keeps saying my password is wrong",
        "Logged me out and now the login page just spins",
        "2FA code never arrives",
        "Stuck in a login loop",
    ),
    "website": (
        "Site won't load at all",
        "Getting a 502 error",
        "Page loads but nothing works",
        "Website is extremely slow",
    ),
    "app": (
        "App crashes as soon as I open it",
        "App stuck on the splash screen",
        "Reinstalled the app, still crashing",
    ),
    "connection": (
        "Can't connect to the server",
        "Keeps disconnecting every few minutes",
        "Connection timed out",
    ),
    "upload": (
        "Uploads stuck at 99%",
        "Video upload fails every time",
        "Can't post anything, upload just errors",
    ),
    "playback": (
        "Videos won't play, just buffering",
        "Stream keeps freezing",
        "Black screen with sound only",
        "Playback error on every title",
    ),
    "messaging": (
        "Messages not sending, just one tick",
        "Messages stuck on sending",
        "Not receiving any messages",
    ),
    "notifications": (
        "No notifications since this morning",
        "Notifications arriving hours late",
    ),
    "payments": (
        "Payment declined but the card is fine",
        "Checkout fails at the last step",
        "Transfer pending for hours",
    ),
    "matchmaking": (
        "Stuck in matchmaking forever",
        "Kicked from every match",
        "Lag spikes make it unplayable",
    ),
    "deploys": (
        "Builds queued and never start",
        "Deploys failing with an internal error",
        "Actions runners not picking up jobs",
    ),
    "email": (
        "Emails not arriving",
        "Can't send email, stuck in outbox",
        "Inbox won't refresh",
    ),
    "mobile": (
        "No signal at all",
        "SOS only on my phone",
        "Mobile data not working",
    ),
    "internet": (
        "Home internet down, modem blinking",
        "Internet keeps dropping",
        "Very slow speeds tonight",
    ),
    "calls": (
        "Calls drop after a few seconds",
        "Can't make or receive calls",
        "Call audio cuts out",
    ),
    "other": (
        "Something is off, nothing works properly",
        "Down for me too",
        "Is it just me?",
    ),
}
LOCAL_COMMENTS: dict[str, tuple[str, ...]] = {
    "pt": ("Não está funcionando aqui", "Caiu de novo?", "Fora do ar desde cedo", "Aqui também"),
    "es": ("No funciona desde hace un rato", "¿Se cayó?", "No carga nada", "Caído aquí también"),
    "de": ("Geht bei mir gar nicht", "Seit einer Stunde down", "Lädt nicht"),
    "fr": ("Ça ne marche plus", "Rien ne marche depuis ce matin", "En panne chez moi aussi"),
}
COUNTRY_LANGUAGE = {
    "BR": "pt",
    "PT": "pt",
    "MX": "es",
    "ES": "es",
    "AR": "es",
    "CO": "es",
    "CL": "es",
    "DE": "de",
    "AT": "de",
    "CH": "de",
    "FR": "fr",
    "BE": "fr",
}


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
