"""Detection quality on simulated per-minute report counts and on real mention counts; prints
one JSON line.

Run: ``python bench/detect_quality.py`` (``make bench-detect``, about four minutes on two
cores). No database, fixed seeds. Sections: ``ours`` and ``zscore`` (the simulated series),
``realistic`` (the same series with non-outage behaviours of real streams added),
``real_data`` (NAB scores on five real series), ``perf``.

Simulated data
    400 series (320 with outages, 80 clean) of per-minute counts over 6 weeks: 5 weeks of
    history, evaluation on the last week. Mean rates log-uniform from 0.05 to 100 reports a
    minute; a daily rhythm (two harmonics, peak-to-trough up to ~4x), a weekend factor
    (0.6-1.3), a trend (-5 % to +15 % a week), a slow hour-level wander (log-AR(1), sd 2-10 %)
    and over-dispersed noise (gamma-Poisson, gamma shape 2-30 per series, i.e. the per-minute
    rate varies by 18-70 %).
    Outages multiply the rate by 3-50x (log-uniform) for 10 min to 4 h (log-uniform), with a
    linear ramp up of up to 10 min and a ramp down of up to 30 min. Evaluation-week outages: 1
    plus Poisson(1.5) per outage series; history outages: 0-3 per series, and 30 % of the
    evaluation outages have a twin one week earlier at the same time of week (the case where a
    baseline that learns from outages would go blind).

Realistic behaviours (``realistic``)
    The same 400 series, rates and outages, with what real report and mention streams also do
    and the plain simulation lacks; each series gets each behaviour independently, on its own
    random stream (``REALISTIC_SEED``), so ``ours`` is unchanged. None of them is an outage: an
    alarm on one is a false alarm. What the five real series show (``bench/realdata``), against
    the median of the same time of day over the previous week: outside their labelled windows,
    5 to 13 runs a week of three or more 5-minute buckets at 2.5x or more, the largest at
    50-230x; 5-minute counts spread around it by a factor of e^0.6 to e^0.8 (baseline error and,
    on quiet series, Poisson noise included), more than independent per-minute noise gives,
    hence noise correlated over minutes below; 12-56 % zero buckets on the three quieter ones.
    * Bursts (40 % of the series, Poisson(3) a week): a rise to the peak within 1-5 min, then an
      exponential fade (time constant 5-60 min, log-uniform) until 5 % of the peak's excess is
      left: 15 min to about 3 h. Peak multiplier 2 + Pareto(1.2) (median 2.8x, 19 % over 5x,
      3 % over 20x, capped at 200x): a news story, a viral post, a TV show.
    * Level shifts (25 %): at a moment in the last two weeks the rate gains or loses 30-60 %
      for good (a service gains or loses users).
    * Heavy-tailed noise (20 %): log-normal rate mixing (sd of the log 0.25-0.6, correlated
      over 1-10 min, AR(1)) instead of the gamma mixing.
    * A holiday (40 %): one weekday of the evaluation week at the series' weekend level.
    * Quiet nights (half the series under 1 report a minute): the daily rhythm sharpened by
      exp(depth (cos - 1)), depth 2-4, so nights hold long runs of zeros.
    * Intake gaps (20 %): 30-90 min with no reports at all, one in the history and one in the
      evaluation week; reports resume at their normal level.
    Bursts and gaps are at least 4 h away from every outage and from each other. Outages'
    excess (below) is recomputed on the changed rates. The section reports the metrics of
    ``ours`` on these series, false alarms put down to every behaviour they overlap (a burst
    or an intake gap and 60 min after, a level shift and 7 days after, a holiday and 60 min
    after; every false alarm on a series with heavy-tailed noise or quiet nights) with the
    number of series carrying each and the rate per series-week, and the share of
    evaluation-week bursts alarmed by peak size.

Matching rules
    * An alarm is a maximal run of buckets in state "outage"; alarms starting in the
      evaluation week are counted.
    * An outage is detected if the state is "outage" in at least one bucket from its first
      minute to its last (ramps included). Latency = minutes from the outage's first minute to
      the end of the first alarmed bucket (the earliest moment the alarm can be published),
      so an alarm in the outage's first minute has latency 1.
    * An alarm is a true positive if it overlaps an outage of its series extended by 60 min
      after its end (an alarm may close after the reports do); otherwise a false alarm.
    * recall = detected / outages, precision = true-positive alarms / alarms, false alarms
      per series-week over all 400 series.
    * close delay = minutes from an outage's last minute to the end of the alarm covering it.

Detectability floor (stated, not hidden)
    An outage's *excess* is the number of extra reports its multiplier adds in expectation
    (sum over its minutes of rate * (multiplier - 1), before noise). A 3x outage for 10 min on
    a service with 0.05 reports a minute adds one report: nothing can see it within minutes.
    Outages with an excess below ``FLOOR_EXCESS`` reports are reported separately
    (``below_floor``) and left out of the headline recall and latency; their alarms still
    count as true positives. ``recall_by_excess`` shows recall across the whole range.

Baseline for comparison
    A plain rolling z-score: mean and standard deviation of the previous 60 minutes, alarm
    while (count - mean) / sd > 3 (sd = 0 with count > mean alarms too), runs closer than
    15 min merged into one alarm (the same hysteresis our detector uses, for fair counting).

Real data (``real_data``)
    Five Twitter mention-count series (5-minute buckets, about eight weeks each, 15 labelled
    anomaly windows) from the Numenta Anomaly Benchmark, MIT licence (``bench/realdata``). The
    detector runs on each file in process exactly as ``manage.py detect_csv`` does (same parsing
    and bucket size; ``tests/bench/test_realdata.py`` checks the two agree row for row); a
    detection is an incident opening, a 0 -> 1 step of state "outage". Scored with NAB's rules
    (``bench/nab.py``; checked against an implementation that reproduces NAB's published totals
    with ``bench/nab_check.py``: largest difference 7e-13): the standard, reward-low-FP and
    reward-low-FN scores, windows found, openings outside windows (after NAB's probation) and
    each file's raw standard score, beside NAB's published results for six detectors on the
    same five files (each at the threshold NAB tuned for it).

Perf figure
    One ``detect_many`` call over 5,000 series in the shape the per-minute task uses: 7 weeks
    of hourly totals as history plus the last 30 h of per-minute counts, returning the latest
    state per series; timed with wide matrices and with long (series_id, bucket, count) rows.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.signal import lfilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.baseline import nanos  # noqa: E402
from analytics.detection import OUTAGE, detect, detect_frames, detect_many  # noqa: E402
from analytics.management.commands.detect_csv import parse, read_table  # noqa: E402
from bench import nab  # noqa: E402

FloatArray = npt.NDArray[np.float64]

SEED = 20251126
OUTAGE_SERIES = 320
CLEAN_SERIES = 80
HISTORY_WEEKS = 5
EVAL_WEEKS = 1
START = pd.Timestamp("2025-01-06", tz="UTC")  # a Monday
MINUTES_PER_WEEK = 7 * 24 * 60
RATE_MIN, RATE_MAX = 0.05, 100.0
MULT_MIN, MULT_MAX = 3.0, 50.0
DUR_MIN, DUR_MAX = 10, 240
TWIN_SHARE = 0.3
MATCH_AFTER = 60  # minutes an alarm may outlast its outage and still count
FLOOR_EXCESS = 20.0
ZSCORE_WINDOW = 60
ZSCORE_LIMIT = 3.0
MERGE_GAP = 15
PERF_SERIES = 5000
# The realistic section: the same series and outages with non-outage behaviours added, each on
# its own share of the series (docstring). Its own random stream, so the headline is unchanged.
REALISTIC_SEED = (SEED, 2)
BURST_SHARE = 0.4
BURSTS_PER_WEEK = 3.0
BURST_TAIL = 1.2  # Pareto index of (peak multiplier - 1), which is at least 1
BURST_PEAK_MAX = 200.0
BURST_RISE_MAX = 5  # minutes to the peak
BURST_TAU = (5.0, 60.0)  # minutes, decay time constant (log-uniform)
SHIFT_SHARE = 0.25
SHIFT_SIZE = (0.3, 0.6)  # share of the users gained or lost
SHIFT_FOLLOW = 7 * 1440  # alarms this long after a shift are put down to it
HEAVY_SHARE = 0.2
HEAVY_SIGMA = (0.25, 0.6)  # sd of the log rate mixing
HEAVY_CORRELATION = (1.0, 10.0)  # minutes (log-uniform)
HOLIDAY_SHARE = 0.4
QUIET_RATE = 1.0  # series under this many reports a minute ...
QUIET_SHARE = 0.5  # ... have quiet nights at this share
QUIET_DEPTH = (2.0, 4.0)  # night factor exp(depth * (cos - 1)): trough e^-4 to e^-8 of the peak
GAP_SHARE = 0.2
GAP_MINUTES = (30, 90)
BURST_PEAK_BINS = (2.0, 3.0, 5.0, 10.0, 50.0)
EVENT_KINDS = ("burst", "level_shift", "holiday", "gap")
EVENT_LABELS = {"gap": "intake_gap"}
REALDATA = Path(__file__).resolve().parent / "realdata"
# NAB's published results for these five files (standard profile, each detector at the
# threshold NAB tuned for it), from NAB's stored results and thresholds (results/*/realTweets).
PUBLISHED_STANDARD = {
    "ARTime": 82.0,
    "contextOSE": 86.1,
    "earthgeckoSkyline": 72.0,
    "numenta (HTM)": 71.7,
    "twitterADVec": 62.7,
    "windowedGaussian": 56.2,
}
TARGETS = {
    "recall": 0.95,
    "precision": 0.95,
    "false_alarms_per_series_week": 0.05,
    "latency_median_min": 3,
}


@dataclass
class Outage:
    series: int
    start: int  # minute index
    duration: int
    excess: float
    evaluated: bool
    ramp_up: int = 0
    multiplier: float = 1.0


def _profile(duration: int, mult: float, ramp_up: int, ramp_down: int) -> FloatArray:
    i = np.arange(duration, dtype=np.float64)
    prof = np.full(duration, mult)
    if ramp_up:
        up = i < ramp_up
        prof[up] = 1 + (mult - 1) * (i[up] + 1) / (ramp_up + 1)
    if ramp_down:
        down = i >= duration - ramp_down
        prof[down] = 1 + (mult - 1) * (duration - i[down]) / (ramp_down + 1)
    return prof


def _place(
    rng: np.random.Generator, taken: list[tuple[int, int]], lo: int, hi: int, duration: int
) -> int | None:
    """A start in [lo, hi - duration) at least 4 h away from the outages already placed."""
    for _ in range(50):
        start = int(rng.integers(lo, hi - duration))
        if all(start + duration + 240 < s or start > s + d + 240 for s, d in taken):
            return start
    return None


@dataclass
class World:
    """Simulated series (minutes x series) and the parts their counts were drawn from."""

    counts: FloatArray
    rate: FloatArray  # expected reports a minute, before outages and noise
    mult: FloatArray  # outage multiplier, 1 outside outages
    noise: FloatArray  # gamma rate mixing, mean 1
    base: FloatArray  # per series: mean rate
    peak: FloatArray  # per series: hour of the daily peak
    weekend: FloatArray  # per series: weekend factor
    outages: list[Outage]


def simulate(
    rng: np.random.Generator, series: int, outage_series: int, minutes: int, eval_start: int
) -> World:
    t = np.arange(minutes)
    hours = (t % 1440) / 60.0
    weekday = (t // 1440) % 7
    base = np.exp(rng.uniform(np.log(RATE_MIN), np.log(RATE_MAX), series))
    amp = rng.uniform(0.3, 0.8, series)
    peak = rng.uniform(10, 21, series)
    phase2 = rng.uniform(0, 24, series)
    daily = (
        1
        + amp * np.cos(2 * np.pi * (hours[:, None] - peak) / 24)
        + 0.25 * amp * np.cos(4 * np.pi * (hours[:, None] - phase2) / 24)
    )
    daily = np.maximum(daily, 0.05)
    weekend_factor = rng.uniform(0.6, 1.3, series)
    weekend = np.where(weekday[:, None] >= 5, weekend_factor, 1.0)
    growth = rng.uniform(-0.05, 0.15, series)
    trend = np.exp(np.log1p(growth) * (t[:, None] / MINUTES_PER_WEEK))
    hours_total = minutes // 60 + 2
    sd = rng.uniform(0.02, 0.10, series)
    phi = 0.9
    wander_h = np.zeros((hours_total, series))
    wander_h[0] = rng.normal(0, sd)
    shocks = rng.normal(0, 1, (hours_total, series)) * sd * np.sqrt(1 - phi**2)
    for h in range(1, hours_total):
        wander_h[h] = phi * wander_h[h - 1] + shocks[h]
    lo = t // 60
    frac = ((t % 60) / 60.0)[:, None]
    wander = np.exp((1 - frac) * wander_h[lo] + frac * wander_h[lo + 1])
    rate = base * daily * weekend * trend * wander
    del daily, weekend, trend, wander

    mult = np.ones_like(rate)
    outages: list[Outage] = []
    for s in range(outage_series):
        taken: list[tuple[int, int]] = []
        plans: list[tuple[int, int, float, int, int, bool]] = []
        for _ in range(1 + int(rng.poisson(1.5))):
            dur = int(np.exp(rng.uniform(np.log(DUR_MIN), np.log(DUR_MAX))))
            start = _place(rng, taken, eval_start + 120, minutes - 60, dur)
            if start is None:
                continue
            taken.append((start, dur))
            m = float(np.exp(rng.uniform(np.log(MULT_MIN), np.log(MULT_MAX))))
            up = int(rng.integers(0, min(10, dur // 4) + 1))
            down = int(rng.integers(0, min(30, dur // 3) + 1))
            plans.append((start, dur, m, up, down, True))
            if rng.random() < TWIN_SHARE:
                plans.append((start - MINUTES_PER_WEEK, dur, m, up, down, False))
        for _ in range(int(rng.integers(0, 4))):
            dur = int(np.exp(rng.uniform(np.log(DUR_MIN), np.log(DUR_MAX))))
            start = _place(rng, taken, 0, eval_start - 60, dur)
            if start is None:
                continue
            taken.append((start, dur))
            m = float(np.exp(rng.uniform(np.log(MULT_MIN), np.log(MULT_MAX))))
            up = int(rng.integers(0, min(10, dur // 4) + 1))
            down = int(rng.integers(0, min(30, dur // 3) + 1))
            plans.append((start, dur, m, up, down, False))
        for start, dur, m, up, down, evaluated in plans:
            prof = _profile(dur, m, up, down)
            window = slice(start, start + dur)
            mult[window, s] = np.maximum(mult[window, s], prof)
            excess = float(np.sum(rate[window, s] * (prof - 1)))
            outages.append(Outage(s, start, dur, excess, evaluated, up, m))

    shape = np.exp(rng.uniform(np.log(2), np.log(30), series))
    noise = rng.gamma(shape, 1 / shape, size=rate.shape)
    counts = rng.poisson(rate * mult * noise).astype(np.float64)
    return World(counts, rate, mult, noise, base, peak, weekend_factor, outages)


@dataclass(frozen=True)
class Event:
    """A non-outage behaviour of one series; alarms overlapping minutes start..end (the effect
    and what may follow it) are put down to it."""

    kind: str
    series: int
    start: int
    end: int
    size: float  # burst: peak multiplier; level shift, holiday: factor; gap: minutes


@dataclass
class Realistic:
    counts: FloatArray
    outages: list[Outage]  # the same outages, their excess on the changed rates
    events: list[Event]
    traits: dict[str, npt.NDArray[np.int64]]  # series-wide behaviours: the series carrying each


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))


def _burst_profile(duration: int, rise: int, peak: float, tau: float) -> FloatArray:
    i = np.arange(duration, dtype=np.float64)
    decay = 1 + (peak - 1) * np.exp(-(i - rise + 1) / tau)
    out: FloatArray = np.where(i < rise, 1 + (peak - 1) * (i + 1) / rise, decay)
    return out


def realistic(world: World, rng: np.random.Generator, eval_start: int) -> Realistic:
    """The simulated series again, with what real report and mention streams also do.

    Each series gets each behaviour independently (shares in the constants). Rates change first
    (quiet nights, a holiday, a level shift, bursts); bursts and gaps are placed at least 4 h
    from every outage and from each other, so an alarm near one is never an outage's.
    """
    minutes, series = world.rate.shape
    rate = world.rate.copy()
    events: list[Event] = []
    by_series: dict[int, list[Outage]] = {}
    for o in world.outages:
        by_series.setdefault(o.series, []).append(o)
    taken = {s: [(o.start, o.duration) for o in by_series.get(s, [])] for s in range(series)}

    quiet = np.flatnonzero((world.base < QUIET_RATE) & (rng.random(series) < QUIET_SHARE))
    hours = (np.arange(minutes) % 1440) / 60.0
    for s in quiet.tolist():
        depth = rng.uniform(*QUIET_DEPTH)
        night = np.exp(depth * (np.cos(2 * np.pi * (hours - world.peak[s]) / 24) - 1))
        rate[:, s] *= night / night.mean()

    for s in np.flatnonzero(rng.random(series) < HOLIDAY_SHARE).tolist():
        day = eval_start + int(rng.integers(0, 5)) * 1440  # a weekday of the evaluation week
        rate[day : day + 1440, s] *= world.weekend[s]
        events.append(Event("holiday", s, day, day + 1440 + MATCH_AFTER, world.weekend[s]))

    for s in np.flatnonzero(rng.random(series) < SHIFT_SHARE).tolist():
        at = int(rng.integers(eval_start - MINUTES_PER_WEEK, minutes - 60))
        size = rng.uniform(*SHIFT_SIZE)
        factor = float(1 + size if rng.random() < 0.5 else 1 - size)
        rate[at:, s] *= factor
        events.append(Event("level_shift", s, at, at + SHIFT_FOLLOW, factor))

    # Evaluated outages never overlap another outage of their series, so the multiplier over
    # an outage's minutes is its own profile.
    outages = [
        replace(o, excess=float(np.sum(rate[span, o.series] * (world.mult[span, o.series] - 1))))
        if o.evaluated
        else o
        for o in world.outages
        for span in [slice(o.start, o.start + o.duration)]
    ]

    for s in np.flatnonzero(rng.random(series) < BURST_SHARE).tolist():
        for week in range(minutes // MINUTES_PER_WEEK):
            for _ in range(int(rng.poisson(BURSTS_PER_WEEK))):
                rise = int(rng.integers(1, BURST_RISE_MAX + 1))
                tau = _log_uniform(rng, BURST_TAU)
                # The burst ends where its excess is down to 5 % of the peak's.
                duration = rise + int(np.ceil(tau * np.log(20)))
                lo = week * MINUTES_PER_WEEK
                start = _place(rng, taken[s], lo, lo + MINUTES_PER_WEEK, duration)
                if start is None:
                    continue
                taken[s].append((start, duration))
                peak = min(2.0 + float(rng.pareto(BURST_TAIL)), BURST_PEAK_MAX)
                rate[start : start + duration, s] *= _burst_profile(duration, rise, peak, tau)
                end = start + duration + MATCH_AFTER
                events.append(Event("burst", s, start, end, peak))

    noise = world.noise.copy()
    heavy = np.flatnonzero(rng.random(series) < HEAVY_SHARE)
    for s in heavy.tolist():
        sigma = rng.uniform(*HEAVY_SIGMA)
        phi = np.exp(-1 / _log_uniform(rng, HEAVY_CORRELATION))
        warm = 200  # minutes dropped so the AR(1) starts in its stationary state
        shocks = rng.normal(0, np.sqrt(1 - phi**2), minutes + warm)
        z = lfilter([1.0], [1.0, -phi], shocks)[warm:]
        noise[:, s] = np.exp(sigma * z - sigma**2 / 2)

    gaps: list[tuple[int, int, int]] = []
    for s in np.flatnonzero(rng.random(series) < GAP_SHARE).tolist():
        for lo, hi in ((1440, eval_start - 60), (eval_start + 120, minutes - 120)):
            duration = int(rng.integers(GAP_MINUTES[0], GAP_MINUTES[1] + 1))
            start = _place(rng, taken[s], lo, hi, duration)
            if start is None:
                continue
            taken[s].append((start, duration))
            gaps.append((s, start, duration))
            events.append(Event("gap", s, start, start + duration + MATCH_AFTER, duration))

    counts = rng.poisson(rate * world.mult * noise).astype(np.float64)
    for s, start, duration in gaps:
        counts[start : start + duration, s] = 0.0
    return Realistic(counts, outages, events, {"heavy_tail_noise": heavy, "quiet_nights": quiet})


def alarm_runs(alarm: npt.NDArray[np.bool_], merge_gap: int = 0) -> list[list[tuple[int, int]]]:
    """Per series, (first, last) minute of each run of True (runs closer than merge_gap joined)."""
    runs: list[list[tuple[int, int]]] = []
    padded = np.vstack(
        [np.zeros((1, alarm.shape[1]), bool), alarm, np.zeros((1, alarm.shape[1]), bool)]
    )
    edges = np.diff(padded.astype(np.int8), axis=0)
    for s in range(alarm.shape[1]):
        starts = np.flatnonzero(edges[:, s] == 1)
        ends = np.flatnonzero(edges[:, s] == -1) - 1
        merged: list[tuple[int, int]] = []
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            if merged and a - merged[-1][1] - 1 <= merge_gap:
                merged[-1] = (merged[-1][0], b)
            else:
                merged.append((a, b))
        runs.append(merged)
    return runs


def false_alarms(
    runs: list[list[tuple[int, int]]], offset: int, outages: list[Outage]
) -> tuple[int, list[tuple[int, int, int]]]:
    """True-positive alarm count and the false alarms as (series, first, last minute of the
    simulation); alarms already open when evaluation starts are not counted."""
    by_series: dict[int, list[Outage]] = {}
    for o in outages:
        by_series.setdefault(o.series, []).append(o)
    tp = 0
    false: list[tuple[int, int, int]] = []
    for s, series_runs in enumerate(runs):
        for a, b in series_runs:
            if a == 0:
                continue  # already open when evaluation started
            a, b = a + offset, b + offset
            hit = any(
                a <= o.start + o.duration + MATCH_AFTER and b >= o.start
                for o in by_series.get(s, [])
            )
            if hit:
                tp += 1
            else:
                false.append((s, a, b))
    return tp, false


def score(
    alarm: npt.NDArray[np.bool_], offset: int, outages: list[Outage], merge_gap: int
) -> dict[str, object]:
    """Metrics for an alarm matrix covering minutes offset.. of the simulation."""
    runs = alarm_runs(alarm, merge_gap)
    tp, false = false_alarms(runs, offset, outages)
    fp = len(false)
    detected: list[tuple[Outage, int | None]] = []
    for o in outages:
        if not o.evaluated:
            continue
        seg = alarm[o.start - offset : o.start - offset + o.duration, o.series]
        hits = np.flatnonzero(seg)
        detected.append((o, int(hits[0]) + 1 if hits.size else None))
    close_delay = []
    for o in outages:
        if o.evaluated:
            first, last = o.start - offset, o.start - offset + o.duration
            close_delay += [b + 1 - last for a, b in runs[o.series] if a < last and b >= first]
    above = [(o, lat) for o, lat in detected if o.excess >= FLOOR_EXCESS]
    below = [(o, lat) for o, lat in detected if o.excess < FLOOR_EXCESS]
    lat = np.array([la for _, la in above if la is not None], dtype=np.float64)
    series_weeks = alarm.shape[1] * EVAL_WEEKS
    bins = [0, 5, FLOOR_EXCESS, 50, 200, 1000, np.inf]
    by_excess = {}
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        group = [la for o, la in detected if lo <= o.excess < hi]
        key = f"{lo:g}-{hi:g}" if np.isfinite(hi) else f">={lo:g}"
        by_excess[key] = {
            "n": len(group),
            "recall": round(sum(la is not None for la in group) / len(group), 3) if group else None,
        }
    return {
        "recall": round(sum(la is not None for _, la in above) / max(len(above), 1), 4),
        "precision": round(tp / max(tp + fp, 1), 4),
        "false_alarms_per_series_week": round(fp / series_weeks, 4),
        "latency_median_min": float(np.median(lat)) if lat.size else None,
        "latency_p90_min": float(np.percentile(lat, 90)) if lat.size else None,
        # Share of the detected outages (above the floor) alarmed within 2, 3 and 5 minutes: how
        # far the median is from moving (it is at most 3 while the 3-minute share is above half).
        "latency_share_within_min": {
            str(m): round(float(np.mean(lat <= m)), 3) if lat.size else None for m in (2, 3, 5)
        },
        "latency_median_by_ramp_min": {
            label: _median([la for o, la in above if la is not None and lo <= o.ramp_up <= hi])
            for label, lo, hi in (("ramp 0-2 min", 0, 2), ("ramp 3-10 min", 3, 10))
        },
        "close_delay_median_min": _median(close_delay),
        "alarms": tp + fp,
        "false_alarms": fp,
        "recall_all_outages": round(sum(la is not None for _, la in detected) / len(detected), 4),
        "below_floor": {
            "outages": len(below),
            "recall": round(sum(la is not None for _, la in below) / max(len(below), 1), 4),
        },
        "recall_by_excess": by_excess,
    }


def _median(values: list[int]) -> float | None:
    return float(np.median(values)) if values else None


def _rate(false: int, series: int) -> float | None:
    return round(false / (series * EVAL_WEEKS), 4) if series else None


def attribute(alarm: npt.NDArray[np.bool_], offset: int, world: Realistic) -> dict[str, Any]:
    """False alarms put down to the behaviours they overlap, and the share of bursts alarmed."""
    runs = alarm_runs(alarm)
    _, false = false_alarms(runs, offset, world.outages)
    minutes = offset + alarm.shape[0]
    live = [e for e in world.events if e.end >= offset and e.start < minutes]
    events_of: dict[int, list[Event]] = {}
    for e in live:
        events_of.setdefault(e.series, []).append(e)
    traits = {kind: set(members.tolist()) for kind, members in world.traits.items()}
    kinds = [*EVENT_KINDS, *traits]
    blamed = dict.fromkeys(kinds, 0)
    unattributed = 0
    for s, a, b in false:
        hits = {e.kind for e in events_of.get(s, []) if a <= e.end and b >= e.start}
        hits |= {kind for kind, members in traits.items() if s in members}
        for kind in hits:
            blamed[kind] += 1
        unattributed += not hits
    by_behaviour: dict[str, dict[str, int | float | None]] = {}
    for kind in kinds:
        if kind in traits:
            carriers, events = len(traits[kind]), None
        else:
            carriers = len({e.series for e in live if e.kind == kind})
            events = sum(e.kind == kind for e in live)
        row: dict[str, int | float | None] = {"series": carriers}
        if events is not None:
            row["events"] = events
        row["false_alarms"] = blamed[kind]
        row["per_series_week"] = _rate(blamed[kind], carriers)
        by_behaviour[EVENT_LABELS.get(kind, kind)] = row
    series = alarm.shape[1]
    by_behaviour["unattributed"] = {
        "series": series,
        "false_alarms": unattributed,
        "per_series_week": _rate(unattributed, series),
    }

    counted = [[(a + offset, b + offset) for a, b in r if a > 0] for r in runs]
    bursts = [e for e in live if e.kind == "burst" and e.start >= offset]
    alarmed = [any(a <= e.end and b >= e.start for a, b in counted[e.series]) for e in bursts]
    bins = [*BURST_PEAK_BINS, np.inf]
    by_peak = {}
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        group = [hit for e, hit in zip(bursts, alarmed, strict=True) if lo <= e.size < hi]
        key = f"{lo:g}-{hi:g}x" if np.isfinite(hi) else f">={lo:g}x"
        by_peak[key] = {
            "n": len(group),
            "alarmed": round(sum(group) / len(group), 3) if group else None,
        }
    return {
        "false_alarms_by_behaviour": by_behaviour,
        "bursts_alarmed": {
            "bursts": len(bursts),
            "alarmed": round(sum(alarmed) / max(len(bursts), 1), 3),
            "by_peak": by_peak,
        },
    }


def real_spikes(path: Path) -> npt.NDArray[np.bool_]:
    """``is_spike`` of each row of a timestamp,value file as ``manage.py detect_csv`` writes it:
    the same parsing, bucket size and detector, in process (``tests/bench`` checks they agree)."""
    index, values, bucket = parse(read_table(path))
    result = detect(pd.Series(values, index=index), bucket=bucket)
    positions = (nanos(index) - nanos(index)[0]) // bucket.value
    spikes: npt.NDArray[np.bool_] = result["state"].to_numpy()[positions] == "outage"
    return spikes


def real_data() -> dict[str, object]:
    """NAB scores of the detector's incident openings on the five real series."""
    t0 = time.perf_counter()
    files = nab.load_corpus(REALDATA)
    detections = {f.name: nab.onsets(real_spikes(REALDATA / "data" / f.name)) for f in files}
    run_s = time.perf_counter() - t0
    scores = {name: nab.score_corpus(files, detections, p) for name, p in nab.PROFILES.items()}
    standard = scores["standard"].files
    return {
        "data": "5 Twitter mention-count series (5-minute buckets, about 8 weeks each) with 15 "
        "labelled windows, from NAB (realTweets, MIT licence): bench/realdata",
        "rules": "NAB v1.1 scoring (bench/nab.py); a detection is an incident opening, a 0->1 "
        "step of state outage as manage.py detect_csv computes it",
        "nab_standard": round(scores["standard"].normalized, 1),
        "nab_reward_low_fp": round(scores["reward_low_FP_rate"].normalized, 1),
        "nab_reward_low_fn": round(scores["reward_low_FN_rate"].normalized, 1),
        "windows_found": sum(f.windows_found for f in standard),
        "windows": sum(f.windows for f in standard),
        "openings_outside_windows": sum(f.detections_outside for f in standard),
        "per_file_standard_raw": {Path(f.name).name: round(f.raw, 2) for f in standard},
        "published_standard_same_files": PUBLISHED_STANDARD,
        "published_note": "NAB's published results: NAB standard score of each detector on these "
        "five files, at the threshold NAB tuned for it",
        "runtime_s": round(run_s, 2),
    }


def zscore_alarms(counts: FloatArray, eval_start: int) -> npt.NDArray[np.bool_]:
    frame = pd.DataFrame(counts[eval_start - ZSCORE_WINDOW :])
    past = frame.shift(1).rolling(ZSCORE_WINDOW)
    mean = past.mean().to_numpy()
    sd = past.std().to_numpy()
    now = frame.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, (now - mean) / sd, np.where(now > mean, np.inf, 0.0))
    alarm: npt.NDArray[np.bool_] = z[ZSCORE_WINDOW:] > ZSCORE_LIMIT
    return alarm


def perf(rng: np.random.Generator) -> dict[str, object]:
    """Time detect_many on 5,000 series: 7 weeks of hourly history + 30 h of minutes.

    Once with wide matrices, once with long rows as a database returns them (integer series
    ids, zero counts absent).
    """
    end = pd.Timestamp("2025-03-03 12:00", tz="UTC")
    minutes = pd.date_range(end - pd.Timedelta(hours=30), end, freq="1min", inclusive="left")
    hours = pd.date_range(
        minutes[0].floor("1h") - pd.Timedelta(weeks=7), minutes[0], freq="1h", inclusive="left"
    )
    base = np.exp(rng.uniform(np.log(RATE_MIN), np.log(RATE_MAX), PERF_SERIES))
    hour_of_day = minutes.hour.to_numpy() + minutes.minute.to_numpy() / 60
    rhythm = 1 + 0.5 * np.cos(2 * np.pi * (hour_of_day - 15) / 24)
    recent = rng.poisson(base * rhythm[:, None]).astype(np.float64)
    h_rhythm = 1 + 0.5 * np.cos(2 * np.pi * (hours.hour.to_numpy() + 0.5 - 15) / 24)
    history = rng.poisson(60 * base * h_rhythm[:, None]).astype(np.float64)
    ids = np.arange(PERF_SERIES)
    recent_frame = pd.DataFrame(recent, index=minutes, columns=ids)
    history_frame = pd.DataFrame(history, index=hours, columns=ids)
    t0 = time.perf_counter()
    latest = detect_many(recent_frame, history=history_frame)
    wide_s = time.perf_counter() - t0

    def long(matrix: FloatArray, index: pd.DatetimeIndex) -> pd.DataFrame:
        t, s = np.nonzero(matrix)
        return pd.DataFrame({"series_id": ids[s], "bucket": index[t], "count": matrix[t, s]})

    recent_rows, history_rows = long(recent, minutes), long(history, hours)
    t0 = time.perf_counter()
    detect_many(recent_rows, history=history_rows, end=minutes[-1], bucket=pd.Timedelta(minutes=1))
    long_s = time.perf_counter() - t0
    return {
        "shape": "5000 series: 7 weeks of hourly totals (1176 x 5000) + last 30 h per minute "
        "(1800 x 5000) -> latest state per series (state machine replayed over 6 h)",
        "seconds_wide": round(wide_s, 2),
        "seconds_long_rows": round(long_s, 2),
        "long_rows": len(recent_rows) + len(history_rows),
        "states": {str(k): int(v) for k, v in latest["state"].value_counts().items()},
    }


def main() -> None:
    rng = np.random.default_rng(SEED)
    series = OUTAGE_SERIES + CLEAN_SERIES
    minutes = (HISTORY_WEEKS + EVAL_WEEKS) * MINUTES_PER_WEEK
    eval_start = HISTORY_WEEKS * MINUTES_PER_WEEK
    t0 = time.perf_counter()
    world = simulate(rng, series, OUTAGE_SERIES, minutes, eval_start)
    counts, outages = world.counts, world.outages
    simulate_s = time.perf_counter() - t0

    index = pd.date_range(START, periods=minutes, freq="1min")
    t0 = time.perf_counter()
    frames = detect_frames(
        pd.DataFrame(counts, index=index),
        bucket=pd.Timedelta(minutes=1),
        evaluate_from=index[eval_start],
        threshold_rows=0,
    )
    ours_s = time.perf_counter() - t0
    ours = score(frames.state.to_numpy() == OUTAGE, eval_start, outages, 0)
    ours["runtime_s"] = round(ours_s, 2)
    possible = alarm_runs(frames.state.to_numpy() >= 1)
    ours["possible_or_outage_alarms"] = sum(len(r) for r in possible)

    t0 = time.perf_counter()
    z_alarm = zscore_alarms(counts, eval_start)
    z_s = time.perf_counter() - t0
    zscore = score(z_alarm, eval_start, outages, MERGE_GAP)
    zscore["runtime_s"] = round(z_s, 2)

    evaluated = [o for o in outages if o.evaluated]
    t0 = time.perf_counter()
    real = realistic(world, np.random.default_rng(REALISTIC_SEED), eval_start)
    realistic_simulate_s = time.perf_counter() - t0
    del world, counts, frames, z_alarm  # about 1 GB
    t0 = time.perf_counter()
    frames = detect_frames(
        pd.DataFrame(real.counts, index=index),
        bucket=pd.Timedelta(minutes=1),
        evaluate_from=index[eval_start],
        threshold_rows=0,
    )
    realistic_s = time.perf_counter() - t0
    alarm = frames.state.to_numpy() == OUTAGE
    lifelike = score(alarm, eval_start, real.outages, 0)
    lifelike["runtime_s"] = round(realistic_s, 2)
    lifelike["possible_or_outage_alarms"] = sum(
        len(r) for r in alarm_runs(frames.state.to_numpy() >= 1)
    )
    lifelike.update(attribute(alarm, eval_start, real))
    lifelike["simulate_s"] = round(realistic_simulate_s, 2)
    del frames, alarm

    result = {
        "bench": "detect_quality",
        "seed": SEED,
        "series": series,
        "clean_series": CLEAN_SERIES,
        "bucket_min": 1,
        "history_weeks": HISTORY_WEEKS,
        "eval_weeks": EVAL_WEEKS,
        "outages": len(evaluated),
        "rules": "alarm = run of state outage; outage detected if alarmed during [start, end]; "
        "alarm true if it overlaps an outage extended 60 min; latency = outage start to end of "
        "the first alarmed 1-min bucket",
        "detectability_floor": {
            "rule": "outages adding fewer than this many expected extra reports are reported "
            "in below_floor, not in recall/latency",
            "excess_reports": FLOOR_EXCESS,
            "outages_below": sum(o.excess < FLOOR_EXCESS for o in evaluated),
        },
        "ours": ours,
        "zscore": zscore,
        "realistic": {
            "rules": "the same series, outages and metrics as ours, with non-outage behaviours "
            "added on shares of the series: bursts, level shifts, heavy-tailed noise, a "
            "holiday, quiet nights, intake gaps (docstring). A false alarm is put down to every "
            "behaviour it overlaps: a burst or an intake gap and 60 min after, a level shift "
            "and 7 days after, a holiday and 60 min after; heavy-tailed noise and quiet nights "
            "to every false alarm on their series",
            **lifelike,
        },
        "real_data": real_data(),
        "targets": TARGETS,
        "perf": perf(rng),
        "simulate_s": round(simulate_s, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
