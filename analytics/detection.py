"""Spike detection on report counts: expected, threshold, score and state per bucket.

Pure numpy/pandas, no database. ``detect`` takes one series, ``detect_frames`` a wide matrix
(buckets x series) and returns full frames, ``detect_many`` is what the per-minute task calls:
thousands of series at once, latest state per series. All three run the same code.

How a bucket is judged (everything below is causal: bucket t sees buckets up to t only):

1. The baseline (``analytics.baseline``) gives the expected count ``mu`` of every bucket and
   the over-dispersion of the series, all fixed at the start of the hour.
2. Windows of 2, 5, 15, 45 and 120 minutes ending at t are compared with what they should
   hold. Counts are modelled as negative binomial: a window expecting ``M`` reports (sum of
   ``mu``) has variance ``M + alpha_ind * sum(mu^2) + alpha_cor * M^2``.
   * The window's bucket with the largest excess is left out: one burst, however large, is
     never sustained excess (a two-bucket window is a test of the smaller bucket).
   * A window counts only if it holds at least ``MIN_EXCESS`` more reports than expected and
     at least ``MIN_RATIO`` times the expectation: a couple of reports on a quiet service,
     and statistically significant but immaterial drifts on a busy one, are not outages.
   * A window of four or more buckets also needs its recent half to be elevated and to carry
     ``RECENT_SHARE`` of the excess: an outage that ended an hour ago is not evidence now.
   * A *run* of two or three consecutive buckets that are each at least ``OUTAGE_RATIO`` times
     their expectation is also tested on its full sum, nothing left out, but at a far stricter
     level (``RUN_SCORES``): this is what opens a sharp outage in its second or third minute.
   * ``score`` is -log10 of the upper-tail probability of the strongest counting window or run
     (a run's lowered by its extra strictness; 0 if none counts, NaN while the baseline is still
     learning).
   * Windows are time spans: at buckets of two minutes or more (``MIN_SUSTAINED``) the shortest
     windows are a single bucket, scored whole, and such a lone bucket counts only if it is a
     record of the series' last seven weeks (``LONE_RECORD_DAYS``): real bursts are heavy-tailed.
3. Records: "outage" evidence counts only where some window's ratio to expectation beats the
   largest the series reached in the last seven weeks at unusual buckets outside outages
   (``RECORD_DAYS``, ``record_bars``): a rise no larger, at every time scale, than a routine
   burst of the series is not an outage, while repeated outages never raise the bar.
   ``detect`` and ``detect_frames`` build the records from the frame's own buckets day by day;
   the live pass keeps each day's peaks in the database (``SeriesPeak``) and passes them in.
4. A state machine with hysteresis turns scores into ``ok`` / ``possible`` / ``outage``:
   "possible" opens at ``SCORE_POSSIBLE``; "outage" opens at ``SCORE_OUTAGE`` from a window
   holding at least ``OUTAGE_RATIO`` times its expectation (or a run); both close only after
   ``CLOSE_QUIET`` without a possible-level score while the last ``CLOSE_RECENT_SPAN`` are still
   elevated (where they expect enough reports to tell). An outage whose reports fall back to
   "possible" levels stays an outage until things are quiet, so a noisy plateau does not flap;
   once closed, the long windows' memory of it does not reopen it.
5. ``detect_many`` also says when the current episode *began*: where the reports started to
   rise before the test fired (``rise_start``), which is what an incident's start means.

``threshold`` is published per bucket: the smallest count that, seen in two consecutive
buckets, is outage-level on its own (the shortest window). Runs and longer windows also catch
smaller excesses, so counts below the threshold can still open an outage.

Measured by ``make bench-detect`` (``bench/detect_quality.py``). Simulated one-minute report
counts: recall 0.983 on outages adding at least 20 reports, precision 0.996, 0.0075 false
outages per series-week, median latency 3 minutes from the start of an outage (p90 13), alarms
closing a median of 18 minutes after the outage ends; the records changed none of these. The
same series with real streams' bursts, level shifts, heavy-tailed noise, holidays, quiet nights
and intake gaps added: precision 0.73 and 0.68 false alarms per series-week (0.69 and 0.81
before the records). Real five-minute mention counts (five NAB Twitter files, NAB's scoring):
standard 84.1, low-FP 74.2, low-FN 89.4, 15 of 15 windows, 31 openings outside windows (69.0,
43.8, 79.3 and 74 before the records); NAB's published detectors score 56-86 on those files.
The records are what a repeat of a routine burst meets; a series' first burst of a new size
still opens, which is most of the 31.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special
from scipy.ndimage import maximum_filter1d

from analytics.baseline import (
    BoolArray,
    FloatArray,
    Grid,
    cumsum_rows,
    fit,
    grid_for,
    infer_bucket,
    nanos,
    regular,
    trailing_sum,
)
from analytics.thresholds import MIN_EXCESS, MIN_RATIO, OUTAGE_RATIO

# Window lengths. The shortest is two buckets: "sustained" means at least two buckets carry the
# excess. The longest (two hours) is what a service with one report every twenty minutes needs
# to show a tenfold rise; beyond that an outage is old news.
WINDOW_SPANS = tuple(pd.Timedelta(minutes=m) for m in (2, 5, 15, 45, 120))
MIN_WINDOW_BUCKETS = 2
# "Sustained" is a matter of time, not of rows: two minutes. With one-minute buckets a window
# needs two buckets (the larger left out). A bucket of two minutes or more (five-minute mention
# counts, a partner's coarse feed) spans that time on its own, so its shortest windows are one
# bucket, scored whole: leaving the largest out would make every outage wait a second bucket,
# five or more minutes later.
MIN_SUSTAINED = pd.Timedelta(minutes=2)
# Records. Real streams burst: a news story, a viral post, a TV show lift reports or mentions
# for minutes to hours, and such bursts are heavy-tailed: the counts model calls several a week
# significant on a busy mention series. What tells an outage from a routine burst is the
# series' own past, over ``RECORD_DAYS`` (seven weeks, the history the detection pass keeps;
# nothing is held to a record until ``LONE_RECORD_MIN_DAYS`` days were seen). Two rules:
# * A one-bucket window (``MIN_SUSTAINED``) counts only if its bucket, relative to
#   expectation, is larger than every bucket of the series' last ``LONE_RECORD_DAYS``
#   (``lone_record``): a lone bucket is what a burst looks like, and a record is news, a
#   routine burst is not. Ratios are shrunk towards 1 by ``MIN_EXCESS`` reports so a quiet
#   series' couple of reports do not set it.
# * "Outage" opens only where at least one window's ratio (``window_ratios``) beats that
#   window's record (``record_bars``): the largest ratio of the previous ``RECORD_DAYS`` UTC
#   days at buckets that were unusual (a possible-level score, or a bucket at outage level on
#   its own) and not part of an outage (in one, within the window's length after it, or within
#   ``RECORD_LEAD`` before it opened). A rise no larger, at every time scale, than one the
#   series made without an outage is routine. Outages are left out, so that a service's
#   repeated outages each still open (the same failure a week later); routine bursts stay in,
#   so a series that bursts every day sets its own bar; only unusual buckets count, so plain
#   noise, which the counts model already allows for, does not raise the short windows' bar.
# Seven weeks rather than two because a record over a short memory forgets a month's bursts
# and lets them cry wolf again: on the five real mention series two weeks gave 79 against 84.
RECORD_DAYS = 49
LONE_RECORD_DAYS = RECORD_DAYS
LONE_RECORD_MIN_DAYS = 3
# An outage's first minutes come before its alarm opens: they are the outage, not a burst.
RECORD_LEAD = pd.Timedelta(minutes=30)
# Record keys: the window spans in minutes (``SeriesPeak`` stores one column per span).
RECORD_SPANS = tuple(int(span / pd.Timedelta(minutes=1)) for span in WINDOW_SPANS)
# MIN_EXCESS, MIN_RATIO and OUTAGE_RATIO live in analytics.thresholds (see there for why).
# A window counts only while its most recent quarter is elevated too and still carries this
# share of the window's excess (a quarter of it if the excess is even): an outage that ended
# half an hour ago is not evidence now, and the alarm closes soon after the reports calm down.
RECENT_PART = 0.25
RECENT_SHARE = 0.125
# ... and that recent part must be unusual on its own (p <= 1 %), or noise in a short part
# would revive an old excess still inside the long window.
RECENT_SCORE = 2.0
# Significance levels (-log10 of the tail probability). 1e-3 marks "possible problems". 1e-5
# for an outage gives about one false outage per 200 series-weeks on the simulated bench
# (gamma-Poisson noise, drifting baselines) while opening a minute or two sooner than 1e-6.
SCORE_POSSIBLE = 3.0
SCORE_OUTAGE = 5.0
# Runs: the first buckets of a sharp outage. Leaving the largest bucket out makes a two-bucket
# window a test of its smaller bucket alone, which throws away half the evidence exactly when an
# outage is new. A run of k consecutive buckets that are *each* at least ``OUTAGE_RATIO`` times
# their expectation is instead tested on its full sum, at a far stricter level per run length:
# 1e-8 for two buckets, 1e-7 for three. Every bucket must carry the excess, so "sustained" still
# means at least two buckets; the largest bucket is no longer left out, so one heavy burst can
# dominate the sum, hence the stricter levels and the conditions on the rest below. On the
# simulated bench runs bring the median latency from 4 to 3 minutes (ramps of 3-10 minutes from
# 5 to 4) with the same 3 false outages (7 -> 11 over four seeds, 1,600 series-weeks);
# 1e-7 / 1e-6 doubled the false outages for little gain; two-bucket runs alone left the median
# at 4 minutes on three of the four seeds.
RUN_SCORES = ((2, 8.0), (3, 7.0))
# ... and without its bucket of largest excess a run must still hold ``MIN_EXCESS`` reports above
# expectation (as a window does) and be unusual on its own (p <= 1 %, as a window's recent part):
# a burst next to an ordinary minute is not a run. Costs a few of the runs' early openings.
RUN_REST_SCORE = 2.0
# Beyond this the number carries no information (and float tails underflow).
SCORE_CAP = 99.0
# States close after this long without possible-level evidence: long enough to bridge the
# gaps of a noisy plateau, short enough that "resolved" follows the reports by minutes.
CLOSE_QUIET = pd.Timedelta(minutes=15)
# ... and evidence from long windows keeps a state open only while the last few minutes are
# still elevated (at least ``MIN_RATIO`` times their expectation), wherever those minutes expect
# enough reports (``MIN_EXCESS``) to tell: a two-hour window still holds an outage's reports for
# an hour after they stopped, and on a busy service twenty silent minutes are not an outage
# going on. On a quiet service a few minutes say nothing, and the long windows decide.
CLOSE_RECENT_SPAN = pd.Timedelta(minutes=5)
# How far back ``detect_many`` replays the state machine to know the current state.
STATE_WARMUP = pd.Timedelta(hours=6)
# Cells (buckets x series) processed at once; bounds memory (about 25 arrays of this size).
CHUNK_CELLS = 2_000_000

STATES = ("ok", "possible", "outage")
OK, POSSIBLE, OUTAGE = 0, 1, 2
# Negative binomial sizes beyond this are Poisson to double precision.
POISSON_SIZE = 1e8


def record_lengths(grid: Grid) -> tuple[int, ...]:
    """Window length in buckets for each of ``WINDOW_SPANS`` (two spans may share one): at
    least two buckets, or one where a bucket alone spans ``MIN_SUSTAINED``."""
    shortest = 1 if grid.bucket >= MIN_SUSTAINED else MIN_WINDOW_BUCKETS
    return tuple(max(shortest, grid.buckets_in(span)) for span in WINDOW_SPANS)


def window_lengths(grid: Grid) -> tuple[int, ...]:
    """The distinct window lengths in buckets for a bucket size, shortest first."""
    return tuple(sorted(set(record_lengths(grid))))


def bucket_ratio(counts: FloatArray, mu: FloatArray) -> FloatArray:
    """Count over expectation, both shrunk by ``MIN_EXCESS`` reports (NaN where either is)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio: FloatArray = (counts + MIN_EXCESS) / (mu + MIN_EXCESS)
    return ratio


def lone_record(ratio: FloatArray, grid: Grid, first_position: int) -> FloatArray:
    """Per bucket: the largest ``bucket_ratio`` of the ``LONE_RECORD_DAYS`` of blocks before
    the bucket's block (NaN until ``LONE_RECORD_MIN_DAYS`` of them were seen)."""
    per = grid.per_block
    lead = first_position % per
    rows, series = ratio.shape
    blocks = -(-(lead + rows) // per)
    padded = np.full((blocks * per, series), np.nan)
    padded[lead : lead + rows] = ratio
    by_block = padded.reshape(blocks, per, series)
    seen = np.isfinite(by_block).any(axis=1)
    peak = np.where(
        seen, np.nanmax(np.where(np.isfinite(by_block), by_block, -np.inf), axis=1), -np.inf
    )
    span = grid.blocks_in(pd.Timedelta(days=LONE_RECORD_DAYS))
    # Row i: the span of blocks ending at i; block b's record is row b - 1.
    best = maximum_filter1d(
        peak, size=span, axis=0, mode="constant", cval=-np.inf, origin=(span - 1) // 2
    )
    count = np.concatenate([np.zeros((1, series)), np.cumsum(seen, axis=0)])
    b = np.arange(blocks)
    have = count[b] - count[np.maximum(b - span, 0)]
    need = grid.blocks_in(pd.Timedelta(days=LONE_RECORD_MIN_DAYS))
    record = np.full((blocks, series), np.nan)
    later = b >= 1
    record[later] = np.where(have[later] >= need, best[b[later] - 1], np.nan)
    out: FloatArray = np.repeat(record, per, axis=0)[lead : lead + rows]
    return out


def window_ratios(counts: FloatArray, mu: FloatArray, lengths: Sequence[int]) -> FloatArray:
    """Per length (first axis): the trailing window's reports over its expectation, both
    shrunk by ``MIN_EXCESS`` reports (NaN where the window reaches before row 0 or holds an
    unknown bucket). One running sum serves every length."""
    rows = counts.shape[0]
    unknown = np.isnan(counts) | np.isnan(mu)
    c_sum = cumsum_rows(np.where(unknown, 0.0, counts))
    m_sum = cumsum_rows(np.where(unknown, 0.0, mu))
    holes = cumsum_rows(unknown)
    out = np.full((len(lengths), *counts.shape), np.nan)
    for i, w in enumerate(lengths):
        if w > rows:
            continue
        c = c_sum[w:] - c_sum[: rows - w + 1]
        m = m_sum[w:] - m_sum[: rows - w + 1]
        bad = (holes[w:] - holes[: rows - w + 1]) > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i, w - 1 :] = np.where(bad, np.nan, (c + MIN_EXCESS) / (m + MIN_EXCESS))
    return out


def record_bars(peaks: FloatArray) -> FloatArray:
    """The record per length and series from day peaks (days x lengths x series, NaN for a
    day not observed): the largest, NaN where fewer than ``LONE_RECORD_MIN_DAYS`` days were
    observed."""
    if peaks.shape[0] == 0:
        return np.full(peaks.shape[1:], np.nan)
    seen = np.isfinite(peaks[:, 0]).sum(axis=0)
    best = np.where(np.isfinite(peaks), peaks, -np.inf).max(axis=0)
    bars: FloatArray = np.where(seen[None, :] >= LONE_RECORD_MIN_DAYS, best, np.nan)
    return bars


def records_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Records per series from kept day peaks, one row per (series, day) with ``series_id``
    and ``peak_<span>`` columns (``RECORD_SPANS``), as ``record_bars`` makes them from a frame:
    the largest of each column, NaN for a series with fewer than ``LONE_RECORD_MIN_DAYS``
    days. Index = series id, columns = ``RECORD_SPANS``."""
    columns = [f"peak_{span}" for span in RECORD_SPANS]
    if rows.empty:
        return pd.DataFrame(columns=list(RECORD_SPANS), dtype=np.float64)
    grouped = rows.groupby("series_id")[columns]
    best = grouped.max()
    days = grouped.size()
    values = best.to_numpy(dtype=np.float64, copy=True)
    values[(days < LONE_RECORD_MIN_DAYS).to_numpy()] = np.nan
    return pd.DataFrame(values, index=best.index, columns=list(RECORD_SPANS))


def beats_record(ratios: FloatArray, bars: FloatArray) -> BoolArray:
    """Per bucket: some window's ratio beats its record (True where there is no record)."""
    with np.errstate(invalid="ignore"):
        beaten: BoolArray = np.any(~(ratios <= bars[:, None, :]), axis=0)
    return beaten


def _trailing_any(flags: BoolArray, w: int) -> BoolArray:
    """Whether any of rows t-w+1..t is set (rows before 0 are not)."""
    if w <= 1:
        return flags.copy()
    out = maximum_filter1d(
        flags.astype(np.int8), size=w, axis=0, mode="constant", cval=0, origin=(w - 1) // 2
    )
    return out.astype(bool)


def record_counted(
    surprising: BoolArray, alarm: BoolArray, lengths: Sequence[int], lead: int
) -> BoolArray:
    """Per length: buckets whose window ratio may set a record, the surprising ones that are
    not part of an outage (``alarm``): not in one, not within the window's length after one,
    not within ``lead`` buckets before one opened (as far as ``alarm`` reaches)."""
    ahead = _trailing_any(alarm[::-1], lead + 1)[::-1]
    out = np.empty((len(lengths), *alarm.shape), dtype=bool)
    for i, w in enumerate(lengths):
        out[i] = surprising & ~ahead & ~_trailing_any(alarm, w)
    return out


def day_peaks(ratios: FloatArray, counted: BoolArray) -> FloatArray:
    """Per length and series, the largest ratio of one day's buckets that ``counted``: 0 for a
    day observed with none, NaN for a day not observed (lengths x series)."""
    if ratios.shape[1] == 0:
        return np.full((ratios.shape[0], ratios.shape[2]), np.nan)
    known = np.isfinite(ratios)
    best = np.where(counted & known, ratios, -np.inf).max(axis=1)
    peaks: FloatArray = np.where(known.any(axis=1), np.where(np.isfinite(best), best, 0.0), np.nan)
    return peaks


def surprising_buckets(score: FloatArray, lone: FloatArray) -> BoolArray:
    """Buckets the counts model finds unusual: a possible-level score, or a bucket at outage
    level on its own (``lone``, the one-bucket tail score, which the score leaves out where a
    lone bucket does not count)."""
    found: BoolArray = (np.nan_to_num(score, nan=0.0) >= SCORE_POSSIBLE) | (
        np.nan_to_num(lone, nan=0.0) >= SCORE_OUTAGE
    )
    return found


def lone_score(
    counts: FloatArray, mu: FloatArray, alpha_ind: FloatArray, alpha_cor: FloatArray
) -> FloatArray:
    """-log10 of the upper tail of each bucket on its own under the counts model, where the
    bucket holds outage-level reports (``OUTAGE_RATIO`` times and ``MIN_EXCESS`` above its
    expectation); 0 elsewhere. Such buckets are rare, so only they are scored."""
    out = np.zeros_like(counts)
    with np.errstate(invalid="ignore"):
        high = (counts >= OUTAGE_RATIO * mu) & (counts - mu >= MIN_EXCESS)
    if high.any():
        c, m = counts[high], mu[high]
        var = m + (alpha_ind[high] + alpha_cor[high]) * m**2
        out[high] = _score_from_tail(nb_tail(c, m, var))
    return out


def _record_gate(
    counts: FloatArray,
    mu: FloatArray,
    score: FloatArray,
    strong: FloatArray,
    lone: FloatArray,
    elevated: BoolArray,
    quiet: int,
    grid: Grid,
    first_position: int,
) -> FloatArray:
    """``strong`` held to the records (``RECORD_DAYS``), built from the frame's own buckets day
    after day: a day's records come from the days before it, each day's peaks from its
    buckets once its states are known (replayed from ``STATE_WARMUP`` before the day, as the
    live pass does)."""
    lengths = record_lengths(grid)
    ratios = window_ratios(counts, mu, lengths)
    surprising = surprising_buckets(score, lone)
    per_day = grid.buckets_in(pd.Timedelta(days=1))
    lead = grid.buckets_in(RECORD_LEAD)
    warm = grid.buckets_in(STATE_WARMUP)
    offset = first_position % per_day
    rows, series = counts.shape
    days = -(-(offset + rows) // per_day)
    peaks = np.full((days, len(lengths), series), np.nan)
    gated = strong.copy()
    alarm = np.zeros((rows, series), dtype=bool)
    for d in range(days):
        lo, hi = max(0, d * per_day - offset), min(rows, (d + 1) * per_day - offset)
        bars = record_bars(peaks[max(0, d - RECORD_DAYS) : d])
        gated[lo:hi] = np.where(beats_record(ratios[:, lo:hi], bars), strong[lo:hi], 0.0)
        begin = max(0, lo - warm)
        day_states = states(score[begin:hi], gated[begin:hi], quiet, elevated[begin:hi])
        alarm[lo:hi] = day_states[lo - begin :] == OUTAGE
        reach = max(0, lo - max(lengths))
        counted = record_counted(surprising[reach:hi], alarm[reach:hi], lengths, lead)
        peaks[d] = day_peaks(ratios[:, lo:hi], counted[:, lo - reach :])
    return gated


def nb_tail(x: FloatArray, mean: FloatArray, var: FloatArray) -> FloatArray:
    """P(X >= x) for a negative binomial (Poisson when var <= mean) with this mean and variance.

    Non-integer ``x`` uses the continuous extension of the tail, which lies between the tails
    of the neighbouring integers (conservative for a count).
    """
    p = np.ones_like(x)
    positive = (x > 0) & (mean > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        size = mean**2 / (var - mean)
    neg_bin = positive & (var > mean) & (size < POISSON_SIZE)
    poisson = positive & ~neg_bin
    if neg_bin.any():
        s, m = size[neg_bin], mean[neg_bin]
        p[neg_bin] = special.betainc(x[neg_bin], s, m / (s + m))
    if poisson.any():
        p[poisson] = special.gammainc(x[poisson], mean[poisson])
    return p


def _score_from_tail(p: FloatArray) -> FloatArray:
    score: FloatArray = np.minimum(-np.log10(np.maximum(p, 1e-300)), SCORE_CAP)
    return score


def _leave_largest_out(
    counts: FloatArray, mu: FloatArray, excess: FloatArray, w: int
) -> tuple[FloatArray, FloatArray]:
    """Trailing w-bucket sums of counts and expectations without the bucket of largest excess.

    The left-out bucket's expectation is taken as the window's mean (expectations change
    little within two hours), which spares finding its position.
    """
    total = trailing_sum(counts, w)
    expect = trailing_sum(mu, w)
    largest = maximum_filter1d(
        excess, size=w, axis=0, mode="constant", cval=-np.inf, origin=(w - 1) // 2
    )
    left_mu = expect / w
    return total - (largest + left_mu), expect - left_mu


def window_score(
    counts: FloatArray,
    mu: FloatArray,
    alpha_ind: FloatArray,
    alpha_cor: FloatArray,
    windows: Sequence[int],
    record: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Scores per bucket (buckets x series) from the windows and runs ending at the bucket.

    ``record``: for a one-bucket window (see ``MIN_SUSTAINED``), the ``lone_record`` its
    bucket must beat; without it one-bucket windows never count.

    Returns the published score (strongest window holding at least ``MIN_RATIO`` times its
    expectation) and the outage score (strongest window holding ``OUTAGE_RATIO`` times). A run
    (``RUN_SCORES``) enters both with its score lowered by its extra strictness, so that
    ``SCORE_OUTAGE`` on that scale is the run's own level.
    """
    score = np.zeros_like(counts)
    strong = np.zeros_like(counts)
    excess = np.where(np.isnan(counts) | np.isnan(mu), -np.inf, counts - mu)
    for w in windows:
        if w == 1:
            observed, expect = counts, mu
        else:
            observed, expect = _leave_largest_out(counts, mu, excess, w)
        valid = ~np.isnan(observed) & ~np.isnan(expect) & (expect > 0)
        with np.errstate(invalid="ignore"):
            counting = valid & (observed - expect >= MIN_EXCESS) & (observed >= MIN_RATIO * expect)
            if w == 1:
                counting &= bucket_ratio(counts, mu) > record if record is not None else False
        part = max(MIN_WINDOW_BUCKETS, round(w * RECENT_PART))
        if part < w and counting.any():
            recent, recent_expect = _leave_largest_out(counts, mu, excess, part)
            r, rm = recent[counting], recent_expect[counting]
            r_var = rm + (alpha_ind[counting] / (part - 1) + alpha_cor[counting]) * rm**2
            keep = (
                (r >= MIN_RATIO * rm)
                & (r - rm >= RECENT_SHARE * (observed[counting] - expect[counting]))
                & (nb_tail(r, rm, r_var) <= 10.0**-RECENT_SCORE)
            )
            counting[counting] = keep
        if counting.any():
            m = expect[counting]
            # Bucket-level noise of the buckets kept (the one bucket of a one-bucket window).
            power = trailing_sum(mu**2, w)[counting] * (max(w - 1, 1) / w)
            var = m + alpha_ind[counting] * power + alpha_cor[counting] * m**2
            s = _score_from_tail(nb_tail(observed[counting], m, var))
            score[counting] = np.maximum(score[counting], s)
            big = observed[counting] >= OUTAGE_RATIO * m
            strong[counting] = np.maximum(strong[counting], np.where(big, s, 0.0))
    _add_runs(counts, mu, alpha_ind, alpha_cor, score, strong)
    unknown = np.isnan(mu) | np.isnan(counts)
    score[unknown] = np.nan
    strong[unknown] = np.nan
    return score, strong


def _add_runs(
    counts: FloatArray,
    mu: FloatArray,
    alpha_ind: FloatArray,
    alpha_cor: FloatArray,
    score: FloatArray,
    strong: FloatArray,
) -> None:
    """Raise ``score`` and ``strong`` (in place) where a run of ``RUN_SCORES`` ends.

    A run is k consecutive buckets each holding at least ``OUTAGE_RATIO`` times its expectation
    whose other buckets, without the one of largest excess, are still ``MIN_EXCESS`` above
    expectation and unusual on their own (``RUN_REST_SCORE``). Its full sum is scored, less the
    run's extra strictness. Such runs are rare, so only their cells are scored.
    """
    with np.errstate(invalid="ignore"):
        high = counts >= OUTAGE_RATIO * mu  # False where either is NaN
    rows = counts.shape[0]
    for k, level in RUN_SCORES:
        if rows < k:
            continue
        ends = high[k - 1 :].copy()
        for lag in range(1, k):
            ends &= high[k - 1 - lag : rows - lag]
        t, col = np.nonzero(ends)
        if not t.size:
            continue
        t = t + (k - 1)
        at = t[None, :] - np.arange(k)[:, None]  # k x runs: the buckets of each run
        c, m_b = counts[at, col], mu[at, col]
        others = np.ones(c.shape, dtype=bool)
        others[np.argmax(c - m_b, axis=0), np.arange(c.shape[1])] = False
        rest = np.where(others, c, 0.0).sum(axis=0)
        rest_mu = np.where(others, m_b, 0.0).sum(axis=0)
        rest_var = (
            rest_mu
            + alpha_ind[t, col] * np.where(others, m_b**2, 0.0).sum(axis=0)
            + alpha_cor[t, col] * rest_mu**2
        )
        keep = (rest - rest_mu >= MIN_EXCESS) & (
            nb_tail(rest, rest_mu, rest_var) <= 10.0**-RUN_REST_SCORE
        )
        if not keep.any():
            continue
        t, col, c, m_b = t[keep], col[keep], c[:, keep], m_b[:, keep]
        expect = m_b.sum(axis=0)
        var = expect + alpha_ind[t, col] * (m_b**2).sum(axis=0) + alpha_cor[t, col] * expect**2
        s = _score_from_tail(nb_tail(c.sum(axis=0), expect, var)) - (level - SCORE_OUTAGE)
        score[t, col] = np.maximum(score[t, col], s)
        strong[t, col] = np.maximum(strong[t, col], s)


def _latch(opens: BoolArray, closes: BoolArray) -> BoolArray:
    """True from each opening row until the next closing row (rows are time, per column)."""
    rows = np.arange(opens.shape[0])[:, None]
    last_event = np.where(opens | closes, rows, -1)
    last_event = np.maximum.accumulate(last_event, axis=0)
    was_open = np.take_along_axis(opens, np.maximum(last_event, 0), axis=0)
    latched: BoolArray = was_open & (last_event >= 0)
    return latched


def recent_elevated(counts: FloatArray, mu: FloatArray, span: int) -> BoolArray:
    """Whether the last ``span`` buckets are elevated, or expect too few reports to tell (see
    ``CLOSE_RECENT_SPAN``)."""
    held = trailing_sum(counts, span)
    expect = trailing_sum(mu, span)
    with np.errstate(invalid="ignore"):
        telling = expect >= MIN_EXCESS
        elevated: BoolArray = ~telling | (held >= MIN_RATIO * expect)
    return elevated


def states(
    score: FloatArray, strong: FloatArray, quiet: int, elevated: BoolArray | None = None
) -> npt.NDArray[np.int8]:
    """State per bucket (0 ok, 1 possible, 2 outage), starting from ok.

    ``score`` opens "possible", ``strong`` (the outage score) opens "outage"; both close after
    ``quiet`` buckets without possible-level score where the recent buckets are ``elevated``
    (everywhere if not given). Once closed, stale evidence does not reopen a state: it opens
    where its evidence is new (below the level a bucket before) or comes with elevated recent
    buckets.
    """
    with np.errstate(invalid="ignore"):
        possible = np.nan_to_num(score, nan=0.0) >= SCORE_POSSIBLE
        outage = np.nan_to_num(strong, nan=0.0) >= SCORE_OUTAGE
    alive = possible if elevated is None else possible & elevated

    def fresh(level: BoolArray) -> BoolArray:
        if elevated is None:
            return level
        before = np.vstack([np.zeros((1, level.shape[1]), dtype=bool), level[:-1]])
        opening: BoolArray = level & (~before | elevated)
        return opening

    evidence = np.concatenate([np.zeros((1, score.shape[1])), np.cumsum(alive, axis=0)])
    rows = np.arange(1, score.shape[0] + 1)
    recent = evidence[rows] - evidence[np.maximum(rows - quiet, 0)]
    closes = recent == 0
    in_outage = _latch(fresh(outage), closes)
    in_possible = _latch(fresh(possible), closes) & ~in_outage
    result: npt.NDArray[np.int8] = np.where(in_outage, OUTAGE, np.where(in_possible, POSSIBLE, OK))
    return result.astype(np.int8)


def threshold(mu: FloatArray, alpha_ind: FloatArray, alpha_cor: FloatArray) -> FloatArray:
    """Smallest count that, in two consecutive buckets, is outage-level evidence on its own.

    With the larger bucket left out, a two-bucket window is a test of the other bucket alone:
    at least ``MIN_EXCESS`` above and ``OUTAGE_RATIO`` times its expectation, and beyond the
    negative binomial upper quantile at ``SCORE_OUTAGE``. The run test on the two buckets' sum
    (``RUN_SCORES``) may find outage-level evidence a little below it.
    """
    out = np.full_like(mu, np.nan)
    ok = ~np.isnan(mu)
    m = mu[ok]
    var = m + (alpha_ind[ok] + alpha_cor[ok]) * m**2
    limit = 10.0**-SCORE_OUTAGE
    low = np.ceil(np.maximum(m + MIN_EXCESS, OUTAGE_RATIO * m) - 1e-9)
    # A normal-approximation guess keeps the search short; the tail test decides.
    guess = np.maximum(low, np.ceil(m + 4.5 * np.sqrt(var)))

    def passes(c: FloatArray, idx: npt.NDArray[np.intp]) -> BoolArray:
        result: BoolArray = nb_tail(c, m[idx], var[idx]) <= limit
        return result

    everything = np.arange(m.size)
    good = passes(guess, everything)
    hi = guess.copy()
    lo = low - 1.0
    # Failing guesses gallop up until a count passes; passing ones bisect down to ``low``.
    step = np.maximum(np.ceil(np.sqrt(var)), 1.0)
    up = np.flatnonzero(~good)
    lo[up] = guess[up]
    while up.size:
        trial = guess[up] + step[up]
        passed = passes(trial, up)
        hi[up[passed]] = trial[passed]
        lo[up[~passed]] = trial[~passed]
        guess[up[~passed]] = trial[~passed]
        step[up[~passed]] *= 2
        up = up[~passed]
    active = np.flatnonzero(hi - lo > 1)
    while active.size:
        mid = np.floor((hi[active] + lo[active]) / 2)
        passed = passes(mid, active)
        hi[active[passed]] = mid[passed]
        lo[active[~passed]] = mid[~passed]
        active = active[hi[active] - lo[active] > 1]
    out[ok] = hi
    return out


def rise_start(
    counts: FloatArray, mu: FloatArray, opened: npt.NDArray[np.intp], longest: int
) -> npt.NDArray[np.intp]:
    """Per column, the row where the rise leading into row ``opened`` began: the earliest of
    the buckets before it, back to ``longest`` buckets (the longest window: no older report is
    evidence), that are each at least ``MIN_RATIO`` times their expectation, one ordinary bucket
    between two elevated ones allowed (noise). The test fires when the evidence is enough, which
    is minutes after the rise began: an incident starts when the reports did.
    """
    with np.errstate(invalid="ignore"):
        elevated = (counts >= MIN_RATIO * mu) & (counts - mu > 0)
    cols = np.arange(counts.shape[1])
    start = opened.copy()
    going = np.ones(cols.size, dtype=bool)
    missed = np.zeros(cols.size, dtype=np.int64)
    for back in range(1, longest):
        row = opened - back
        going &= row >= 0
        if not going.any():
            break
        up = going & elevated[np.maximum(row, 0), cols]
        start = np.where(up, row, start)
        missed = np.where(up, 0, missed + 1)
        going &= missed < 2
    return start


@dataclass(frozen=True)
class DetectionFrames:
    """Full output for many series: wide frames, index = buckets, columns = series."""

    counts: pd.DataFrame
    expected: pd.DataFrame
    threshold: pd.DataFrame
    score: pd.DataFrame
    state: pd.DataFrame  # int8 codes into STATES
    # With ``records`` given: the last bucket's day peaks so far (index = RECORD_SPANS).
    peaks: pd.DataFrame | None = None
    peaks_day: pd.Timestamp | None = None


def _run(
    counts: FloatArray,
    grid: Grid,
    first_position: int,
    history: FloatArray | None,
    history_first_block: int,
    evaluate_from: int,
    threshold_rows: int | None,
    records: FloatArray | None,
) -> dict[str, FloatArray]:
    """Detection on buckets ``evaluate_from..`` of one chunk of series.

    ``threshold_rows``: compute the threshold for that many trailing buckets (None: all).
    ``records``: the records to hold outages to (lengths x series, see ``RECORD_DAYS``), as the
    live pass keeps them; then ``peaks`` (lengths x series) are the day peaks of the last
    bucket's day so far, from its buckets at least ``RECORD_LEAD`` old. Without records, every
    bucket is scored and the records are built from the chunk's own buckets.
    """
    baseline, mu = fit(
        counts, grid, first_position, history, history_first_block, exact_from=evaluate_from
    )
    windows = window_lengths(grid)
    start = 0 if records is None else max(0, evaluate_from - (max(windows) - 1))
    rows = (first_position + np.arange(start, counts.shape[0])) // grid.per_block
    block_rows = rows - baseline.first_block
    a_ind = baseline.alpha_ind[block_rows]
    a_cor = baseline.alpha_cor[block_rows]
    mu_part = mu[start:]
    counts_part = counts[start:]
    record = None
    if 1 in windows:
        record = lone_record(bucket_ratio(counts, mu), grid, first_position)[start:]
    score, strong = window_score(counts_part, mu_part, a_ind, a_cor, windows, record)
    span = max(1, grid.buckets_in(CLOSE_RECENT_SPAN))
    elevated = recent_elevated(counts_part, mu_part, span)
    quiet = grid.buckets_in(CLOSE_QUIET)
    lone = lone_score(counts_part, mu_part, a_ind, a_cor)
    lengths = record_lengths(grid)
    if records is None:
        strong = _record_gate(
            counts_part, mu_part, score, strong, lone, elevated, quiet, grid, first_position
        )
    else:
        ratios = window_ratios(counts_part, mu_part, lengths)
        strong = np.where(beats_record(ratios, records), strong, 0.0)
    keep = evaluate_from - start
    state = states(score[keep:], strong[keep:], quiet, elevated[keep:])
    out = {"expected": mu[evaluate_from:], "score": score[keep:], "state": state.astype(float)}
    if records is not None:
        # The last bucket's day, up to the newest bucket whose RECORD_LEAD after it is known.
        last = counts.shape[0] - 1
        settled = last - grid.buckets_in(RECORD_LEAD)
        per_day = grid.buckets_in(pd.Timedelta(days=1))
        day_first = settled - (first_position + settled) % per_day
        lo = max(day_first, evaluate_from) - start
        hi = settled + 1 - start
        alarm = np.zeros(counts_part.shape, dtype=bool)
        alarm[keep:] = state == OUTAGE
        reach = max(0, lo - max(lengths))
        counted = record_counted(
            surprising_buckets(score[reach:], lone[reach:]),
            alarm[reach:],
            lengths,
            grid.buckets_in(RECORD_LEAD),
        )
        hi = max(hi, lo)
        out["peaks"] = day_peaks(ratios[:, lo:hi], counted[:, lo - reach : hi - reach])
    thr = np.full_like(out["score"], np.nan)
    tail = thr.shape[0] if threshold_rows is None else min(threshold_rows, thr.shape[0])
    if tail:
        cut = mu_part.shape[0] - tail
        thr[-tail:] = threshold(mu_part[cut:], a_ind[cut:], a_cor[cut:])
    out["threshold"] = thr
    return out


def _chunks(series: int, rows: int) -> list[slice]:
    size = max(1, CHUNK_CELLS // max(rows, 1))
    return [slice(i, min(i + size, series)) for i in range(0, series, size)]


def _check_index(index: pd.DatetimeIndex, bucket: pd.Timedelta) -> pd.DatetimeIndex:
    if index.tz is None:
        index = index.tz_localize("UTC")
    else:
        index = index.tz_convert("UTC")
    if len(index) > 1 and not (np.diff(nanos(index)) == bucket.value).all():
        raise ValueError(f"index must be a regular {bucket} grid without gaps or duplicates")
    return index.as_unit("ns")


def detect_frames(
    counts: pd.DataFrame,
    *,
    bucket: pd.Timedelta | None = None,
    history: pd.DataFrame | None = None,
    evaluate_from: pd.Timestamp | None = None,
    threshold_rows: int | None = None,
    records: pd.DataFrame | None = None,
) -> DetectionFrames:
    """Detection for a wide matrix: index = regular bucket timestamps, columns = series.

    NaN means "not observed" (e.g. before a series existed); missing reports must be 0.
    ``history``: optional earlier hourly (block) totals, index = block starts, same columns;
    blocks fully inside ``counts`` are taken from ``counts``. ``evaluate_from``: first bucket to
    return (earlier buckets still feed the baseline and, without ``records``, the records; the
    state machine starts there as ok).
    ``threshold_rows``: compute thresholds for only that many trailing buckets (they cost a
    search each); the others are NaN.
    ``records``: the records outages are held to (index = series, columns = ``RECORD_SPANS``,
    NaN where a series has none; see ``RECORD_DAYS``), for a frame too short to hold them
    itself (the live pass keeps them in the database). Then only buckets from
    ``evaluate_from`` (less the longest window) are scored, and ``peaks`` holds the last
    bucket's day peaks so far (``peaks_day``). Without them every bucket is scored and the
    records are built from the frame's own buckets.
    """
    index = pd.DatetimeIndex(counts.index)
    step = bucket if bucket is not None else infer_bucket(index)
    index = _check_index(index, step)
    grid = grid_for(step)
    first = grid.position(pd.Timestamp(index[0]))
    start_row = 0
    if evaluate_from is not None:
        start_row = int(np.searchsorted(nanos(index), pd.Timestamp(evaluate_from).value))
    values = counts.to_numpy(dtype=np.float64)
    hist_values, hist_first = _history_matrix(history, counts.columns, grid)
    bars = None
    if records is not None:
        aligned = records.reindex(index=counts.columns, columns=list(RECORD_SPANS))
        bars = aligned.to_numpy(dtype=np.float64).T
    parts: dict[str, list[FloatArray]] = {}
    for cols in _chunks(values.shape[1], values.shape[0]):
        hist = None if hist_values is None else hist_values[:, cols]
        chunk_bars = None if bars is None else bars[:, cols]
        got = _run(
            values[:, cols], grid, first, hist, hist_first, start_row, threshold_rows, chunk_bars
        )
        for key, arr in got.items():
            parts.setdefault(key, []).append(arr)
    out_index = index[start_row:]

    def frame(key: str) -> pd.DataFrame:
        return pd.DataFrame(np.hstack(parts[key]), index=out_index, columns=counts.columns)

    peaks = peaks_day = None
    if bars is not None:
        peaks = pd.DataFrame(
            np.hstack(parts["peaks"]), index=list(RECORD_SPANS), columns=counts.columns
        )
        peaks_day = (pd.Timestamp(index[-1]) - RECORD_LEAD).floor("1D")
    return DetectionFrames(
        counts=pd.DataFrame(values[start_row:], index=out_index, columns=counts.columns),
        expected=frame("expected"),
        threshold=frame("threshold"),
        score=frame("score"),
        state=frame("state").astype(np.int8),
        peaks=peaks,
        peaks_day=peaks_day,
    )


def _history_matrix(
    history: pd.DataFrame | None, columns: pd.Index, grid: Grid
) -> tuple[FloatArray | None, int]:
    if history is None or history.empty:
        return None, 0
    index = pd.DatetimeIndex(history.index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    first = grid.position(pd.Timestamp(index[0]))
    if first % grid.per_block:
        raise ValueError(f"history must be per {grid.block} block, aligned to block starts")
    if len(index) > 1 and not (np.diff(nanos(index)) == grid.block.value).all():
        raise ValueError(f"history must be a regular {grid.block} grid")
    aligned = history.reindex(columns=columns)
    return aligned.to_numpy(dtype=np.float64), first // grid.per_block


def state_labels(codes: npt.ArrayLike) -> pd.Categorical[str]:
    return pd.Categorical.from_codes(
        np.asarray(codes, dtype=np.int64), categories=pd.Index(list(STATES))
    )


def detect(series: pd.Series | pd.DataFrame, *, bucket: pd.Timedelta | None = None) -> pd.DataFrame:
    """Detection for one series of counts on regular buckets.

    ``series``: counts indexed by timestamp (naive timestamps are UTC), or a DataFrame with a
    DatetimeIndex and one column (or a ``count`` column). Missing buckets are 0 reports.
    Returns one row per bucket of the regular grid from the first to the last timestamp, with
    ``count``, ``expected``, ``threshold``, ``score`` and ``state`` ("ok", "possible",
    "outage"). ``expected``/``threshold``/``score`` are NaN while the baseline is learning.
    """
    if isinstance(series, pd.DataFrame):
        column = "count" if "count" in series.columns else None
        if column is None and len(series.columns) != 1:
            raise ValueError("a DataFrame needs a 'count' column or exactly one column")
        series = series[column if column is not None else series.columns[0]]
    index = pd.DatetimeIndex(series.index)
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise ValueError("timestamps must be strictly increasing")
    step = bucket if bucket is not None else infer_bucket(index)
    filled = regular(series, step)
    frames = detect_frames(filled.to_frame("count"), bucket=step)
    return pd.DataFrame(
        {
            "count": frames.counts["count"],
            "expected": frames.expected["count"],
            "threshold": frames.threshold["count"],
            "score": frames.score["count"],
            "state": state_labels(frames.state["count"].to_numpy()),
        },
        index=filled.index,
    )


def _wide(
    frame: pd.DataFrame,
    series_col: str,
    time_col: str,
    value_col: str,
    step: pd.Timedelta,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Long (series, time, count) rows to a regular wide matrix from start to end (inclusive);
    absent cells are 0, rows outside the range are ignored."""
    times = pd.DatetimeIndex(pd.to_datetime(frame[time_col], utc=True)).as_unit("ns")
    first = pd.Timestamp(start) if start is not None else times.min()
    last = pd.Timestamp(end) if end is not None else times.max()
    rows = int((last - first) // step) + 1
    offset = np.asarray((times - first) // step, dtype=np.int64)
    codes, uniques = pd.factorize(frame[series_col], sort=True)
    inside = (offset >= 0) & (offset < rows) & (times >= first)
    flat = offset[inside] * len(uniques) + codes[inside]
    weights = frame[value_col].to_numpy(dtype=np.float64)[inside]
    sums = np.bincount(flat, weights=weights, minlength=rows * len(uniques))
    index = pd.date_range(first, periods=rows, freq=step)
    return pd.DataFrame(sums.reshape(rows, len(uniques)), index=index, columns=uniques)


def detect_many(
    counts: pd.DataFrame,
    *,
    bucket: pd.Timedelta | None = None,
    history: pd.DataFrame | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    warmup: pd.Timedelta = STATE_WARMUP,
    series_col: str = "series_id",
    time_col: str = "bucket",
    value_col: str = "count",
    records: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Latest state of many series at once (the per-minute task).

    ``counts``: long rows (``series_id``, ``bucket``, ``count``; absent buckets are 0 reports)
    or a wide matrix (index = regular bucket timestamps, columns = series). It should cover at
    least the last day plus ``warmup`` at bucket resolution (the bucket-level dispersion looks
    back a day). For long rows, ``start`` and ``end`` (first and last bucket, inclusive) fix the
    grid; by default it runs from the earliest to the latest row, so pass ``end`` when the
    latest bucket may hold no reports at all.
    ``history``: optional hourly totals before that (long with the same column names, block
    starts in ``time_col``, or wide), ideally 7 weeks: 5 for the weekly median plus the level
    and dispersion look-backs. Long history is zero-filled up to ``counts``; without history
    the baseline only knows what ``counts`` holds.
    The state machine is replayed over the last ``warmup`` (from ok), so an outage that has
    only shown possible-level evidence for longer than that reads as "possible".
    ``records``: each series' records (index = series id, columns = ``RECORD_SPANS``; see
    ``RECORD_DAYS``), from ``records_from_rows`` over the day peaks kept for it; without them no
    outage is held back. They apply to every replayed bucket, including those of the day
    before when the replay crosses midnight.

    Returns one row per series (index = series id): ``bucket`` (the latest bucket), ``count``,
    ``expected``, ``threshold``, ``score``, ``state``, ``since`` (first bucket of the current
    state within the replayed span) and ``began`` (while possible or outage: where the reports
    began to rise before the episode opened, see ``rise_start``; NaT while ok), then
    ``peaks_day`` and ``peak_<span>`` per ``RECORD_SPANS``: that day's peaks so far, to keep
    (the largest of what is kept and these) for the records of the days after it.
    """
    if series_col in counts.columns:
        if bucket is None:
            times = pd.DatetimeIndex(pd.to_datetime(counts[time_col], utc=True).unique())
            step = infer_bucket(times.sort_values())
        else:
            step = bucket
        wide = _wide(counts, series_col, time_col, value_col, step, start, end)
    else:
        wide = counts
        step = bucket if bucket is not None else infer_bucket(pd.DatetimeIndex(wide.index))
    grid = grid_for(step)
    first = pd.Timestamp(wide.index[0])
    hist_wide: pd.DataFrame | None = None
    if history is not None and series_col in history.columns and not history.empty:
        hist_times = pd.to_datetime(history[time_col], utc=True)
        hist_end = grid.block_start(grid.position(first) // grid.per_block)
        hist_wide = _wide(
            history, series_col, time_col, value_col, grid.block, hist_times.min(), hist_end
        )
    elif history is not None and not history.empty:
        hist_wide = history
    if hist_wide is not None:
        columns = wide.columns.union(hist_wide.columns)
        wide = wide.reindex(columns=columns, fill_value=0.0)
    index = pd.DatetimeIndex(wide.index)
    begin = max(0, len(index) - grid.buckets_in(warmup))
    frames = detect_frames(
        wide,
        bucket=step,
        history=hist_wide,
        evaluate_from=pd.Timestamp(index[begin]),
        threshold_rows=1,
        records=records if records is not None else pd.DataFrame(columns=list(RECORD_SPANS)),
    )
    state = frames.state.to_numpy()
    changed = np.vstack([np.ones((1, state.shape[1]), dtype=bool), state[1:] != state[:-1]])
    rows = np.arange(state.shape[0])[:, None]
    since_row = np.max(np.where(changed, rows, 0), axis=0)
    out_index = frames.state.index
    # The current episode (possible or outage, however it moved between them) began where the
    # reports started to rise before it opened.
    active = state > OK
    opened = active & ~np.vstack([np.zeros((1, state.shape[1]), dtype=bool), active[:-1]])
    episode_row = np.max(np.where(opened, rows, 0), axis=0)
    began_row = rise_start(
        frames.counts.to_numpy(),
        frames.expected.to_numpy(),
        episode_row,
        max(window_lengths(grid)),
    )
    began = pd.Series(out_index[began_row]).where(active[-1]).array
    return pd.DataFrame(
        {
            "bucket": out_index[-1],
            "count": frames.counts.iloc[-1].to_numpy(),
            "expected": frames.expected.iloc[-1].to_numpy(),
            "threshold": frames.threshold.iloc[-1].to_numpy(),
            "score": frames.score.iloc[-1].to_numpy(),
            "state": state_labels(state[-1]),
            "since": out_index[since_row],
            "began": began,
            "peaks_day": frames.peaks_day,
            **{
                f"peak_{span}": frames.peaks.loc[span].to_numpy()
                for span in RECORD_SPANS
                if frames.peaks is not None
            },
        },
        index=pd.Index(wide.columns, name=series_col),
    )
