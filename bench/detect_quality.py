"""Detection quality on simulated per-minute report counts; prints one JSON line.

Run: ``python bench/detect_quality.py`` (``make bench-detect``). No database, fixed seed.

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

Perf figure
    One ``detect_many`` call over 5,000 series in the shape the per-minute task uses: 7 weeks
    of hourly totals as history plus the last 30 h of per-minute counts, returning the latest
    state per series; timed with wide matrices and with long (series_id, bucket, count) rows.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.detection import OUTAGE, detect_frames, detect_many  # noqa: E402

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


def simulate(
    rng: np.random.Generator, series: int, outage_series: int, minutes: int, eval_start: int
) -> tuple[FloatArray, list[Outage]]:
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
    weekend = np.where(weekday[:, None] >= 5, rng.uniform(0.6, 1.3, series), 1.0)
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
    return counts, outages


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


def score(
    alarm: npt.NDArray[np.bool_], offset: int, outages: list[Outage], merge_gap: int
) -> dict[str, object]:
    """Metrics for an alarm matrix covering minutes offset.. of the simulation."""
    runs = alarm_runs(alarm, merge_gap)
    by_series: dict[int, list[Outage]] = {}
    for o in outages:
        by_series.setdefault(o.series, []).append(o)
    tp = fp = 0
    for s, series_runs in enumerate(runs):
        for a, b in series_runs:
            if a == 0:
                continue  # already open when evaluation started
            a, b = a + offset, b + offset
            hit = any(
                a <= o.start + o.duration + MATCH_AFTER and b >= o.start
                for o in by_series.get(s, [])
            )
            tp += hit
            fp += not hit
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
    counts, outages = simulate(rng, series, OUTAGE_SERIES, minutes, eval_start)
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
        "targets": TARGETS,
        "perf": perf(rng),
        "simulate_s": round(simulate_s, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
