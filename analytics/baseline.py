"""Expected report counts per bucket, learned from each series' own history.

Pure numpy/pandas, no database. The unit of learning is the *block*: one hour, or one bucket
when buckets are an hour or longer. Everything the baseline says about a block (its expected
total, its level correction, the over-dispersion of its counts) is fixed at the block's start
from earlier data only. Three consequences:

* detection is causal by construction: a bucket's expected count never looks at the bucket
  itself or anything after it;
* the hourly baseline task and the per-minute detector compute the same numbers, whichever
  of them computes them;
* history can be handed over as hourly sums (cheap to read for thousands of series) while only
  the last day or so is needed at bucket resolution.

How a block's expected total is found (the first tier with enough history wins):

``weekly``  median, over the last 2–5 weeks that are fully observed, of the report count at the
            same time of week (averaged over ±1 h). The median across weeks is what keeps a past
            outage from inflating the baseline: one bad week out of three or more is ignored.
``daily``   same, over the last 3–7 days at the same time of day (before three weeks exist).
``recent``  cold start: the 75th percentile of the hourly counts of the last 24 h (at least 3 h
            of history). Erring high keeps a daily peak from alarming while the rhythm is still
            unknown; a percentile (not a mean) keeps an outage of a few hours out of it.
``none``    less than 3 h of history: no expectation, detection stays quiet ("learning").

The weekly and daily tiers are then multiplied by a *level ratio*: the median over the last 7
days of (reports that day + prior) / (seasonal expectation that day + prior). It follows growth
or decline within days instead of weeks, and the median over days keeps an outage day out.

Within a block the expected count is interpolated linearly between neighbouring blocks, so a
steep morning rise is not a staircase.

Over-dispersion (counts vary more than Poisson) is estimated per block from the trailing history
in two parts, both as robust medians so that outage hours do not count:

``alpha_ind``  bucket-to-bucket noise inside an hour (bursty reporting), var += alpha * mu^2 per
               bucket, independent between buckets;
``alpha_cor``  hour-to-hour deviation from the expectation (baseline error, slow drift), shared
               by all buckets of a window: var += alpha * M^2 for a window expecting M reports.

Missing buckets are zero reports; ``NaN`` means "not observed" (before a series existed) and
is never counted as zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Blocks are aligned to this instant so hourly blocks are UTC hours and results do not depend on
# where a query window happens to start.
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
# An hour is long enough to hold a usable count even for quiet services, and short enough that
# the baseline is refreshed (and the hourly task can run) once per block.
BLOCK = pd.Timedelta(hours=1)
# Bucket sizes the seasonal model makes sense for: below a second nobody aggregates reports, and
# above a day the time-of-week profile has nothing left to resolve.
MIN_BUCKET = pd.Timedelta(seconds=1)
MAX_BUCKET = pd.Timedelta(days=1)

WEEK = pd.Timedelta(days=7)
DAY = pd.Timedelta(days=1)
# Each week's value at a time of week is the mean over ±1 h: quiet services have too few reports
# per hour for a per-hour estimate, and a daily rhythm barely changes within two hours.
SEASONAL_HALF_WIDTH = pd.Timedelta(hours=1)
# Median over up to 5 weeks ignores two outage weeks out of five; older weeks drift too far.
WEEKLY_LAGS_MAX = 5
# Three weeks is the fewest for which a median ignores one outage week.
WEEKLY_LAGS_MIN = 3
DAILY_LAGS_MAX = 7
DAILY_LAGS_MIN = 3
RECENT_LOOKBACK = pd.Timedelta(hours=24)
RECENT_MIN = pd.Timedelta(hours=3)
RECENT_QUANTILE = 0.75
# Level ratio: days compared, and a prior in reports that shrinks the ratio of quiet days to 1.
LEVEL_DAYS = 7
LEVEL_PRIOR_REPORTS = 10.0
# A service rarely grows or shrinks fivefold in a week; beyond that the history is not a guide.
LEVEL_RATIO_MIN = 0.2
LEVEL_RATIO_MAX = 5.0
# Floor on the expectation: one report a day. Zero would make the very first report infinitely
# surprising; the minimum excess in detection is what keeps a couple of reports from alarming.
MIN_REPORTS_PER_DAY = 1.0

# Dispersion: bucket-level noise from the last day (enough hours for a median, recent enough to
# follow changes), hour-level baseline error from the last week (needs more hours: one number
# per hour, heavy-tailed).
IND_LOOKBACK = pd.Timedelta(hours=24)
IND_MIN_BLOCKS = 6
COR_LOOKBACK = pd.Timedelta(days=7)
COR_MIN_BLOCKS = 24
# Until there is enough history, assume modest over-dispersion rather than pure Poisson: new
# series are where the baseline is least trustworthy.
ALPHA_IND_DEFAULT = 0.1
ALPHA_COR_DEFAULT = 0.05
# alpha = 1 is exponential mixing (standard deviation equal to the mean); estimates beyond it
# come from too few reports, not from real services.
ALPHA_MAX = 1.0
# Median of a chi-square with one degree of freedom: turns a median of squared standardised
# residuals into a variance.
CHI2_1_MEDIAN = 0.454936

TIER_NONE = 0
TIER_RECENT = 1
TIER_DAILY = 2
TIER_WEEKLY = 3
TIER_NAMES = {TIER_NONE: "none", TIER_RECENT: "recent", TIER_DAILY: "daily", TIER_WEEKLY: "weekly"}


@dataclass(frozen=True)
class Grid:
    """Bucket size and the block layout that goes with it."""

    bucket: pd.Timedelta
    per_block: int

    @property
    def block(self) -> pd.Timedelta:
        return self.bucket * self.per_block

    def blocks_in(self, span: pd.Timedelta) -> int:
        """Whole blocks in a span (at least one)."""
        return max(1, round(span / self.block))

    def buckets_in(self, span: pd.Timedelta) -> int:
        return max(1, round(span / self.bucket))

    def position(self, ts: pd.Timestamp) -> int:
        """Global bucket position: block number * buckets per block + position in the block.

        Consecutive buckets have consecutive positions, and position // per_block is the block.
        """
        since = ts - EPOCH
        block_no = since // self.block
        in_block = (since - block_no * self.block) // self.bucket
        return int(block_no) * self.per_block + int(in_block)

    def block_start(self, block_no: int) -> pd.Timestamp:
        return EPOCH + block_no * self.block


def grid_for(bucket: pd.Timedelta) -> Grid:
    if not MIN_BUCKET <= bucket <= MAX_BUCKET:
        raise ValueError(f"bucket size {bucket} is outside {MIN_BUCKET}..{MAX_BUCKET}")
    return Grid(bucket=bucket, per_block=max(1, round(BLOCK / bucket)))


@dataclass(frozen=True)
class BlockBaseline:
    """Per block (rows) and series (columns); one row more than the blocks observed so far.

    The extra last row is the block about to start: the hourly task publishes it.
    """

    first_block: int
    seasonal: FloatArray
    level: FloatArray
    tier: npt.NDArray[np.int8]
    alpha_ind: FloatArray
    alpha_cor: FloatArray

    @property
    def expected(self) -> FloatArray:
        """Expected reports in the whole block."""
        return self.seasonal * self.level


def _lagged(a: FloatArray, lag: int, rows: IntArray) -> FloatArray:
    """Rows ``rows - lag`` of ``a`` (NaN where that is before row 0)."""
    src = rows - lag
    out = a[np.maximum(src, 0)].copy()
    out[src < 0] = np.nan
    return out


def cumsum_rows(a: npt.NDArray[np.float64] | BoolArray) -> FloatArray:
    """np.cumsum(a, axis=0) in float64, with a row of zeros on top.

    Accumulation adds row after row whatever the memory order, so the result is the same to
    the bit; down a column-major copy it is several times faster than down the row-major
    matrices used everywhere here.
    """
    out = np.zeros((a.shape[0] + 1, *a.shape[1:]), order="F")
    np.cumsum(np.asfortranarray(a), axis=0, dtype=np.float64, out=out[1:])
    return np.ascontiguousarray(out)


def trailing_sum(a: FloatArray, w: int) -> FloatArray:
    """Sum of rows t-w+1..t; NaN if the window starts before row 0 or holds a NaN."""
    rows = a.shape[0]
    out = np.full_like(a, np.nan)
    if w > rows:
        return out
    nan = np.isnan(a)
    filled = np.where(nan, 0.0, a)
    csum = cumsum_rows(filled)
    cnan = cumsum_rows(nan)
    window = csum[w:] - csum[: rows - w + 1]
    holes = (cnan[w:] - cnan[: rows - w + 1]) > 0
    out[w - 1 :] = np.where(holes, np.nan, window)
    return out


def nanmedian_small(stack: FloatArray) -> FloatArray:
    """Median over axis 0 ignoring NaN (NaN where all are NaN); fast for a short axis 0."""
    return _sorted_quantile(np.sort(stack, axis=0), 0.5, 1, axis=0)


def _sorted_quantile(ordered: FloatArray, q: float, min_count: int, axis: int) -> FloatArray:
    """Quantile (linear interpolation, as pandas) along an axis already sorted, NaN last."""
    valid = np.sum(~np.isnan(ordered), axis=axis, keepdims=True)
    pos = q * np.maximum(valid - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(valid - 1, 0))
    frac = pos - lo
    a = np.take_along_axis(ordered, lo, axis=axis)
    b = np.take_along_axis(ordered, hi, axis=axis)
    value = np.squeeze(a + (b - a) * frac, axis=axis)
    enough = np.squeeze(valid >= max(min_count, 1), axis=axis)
    result: FloatArray = np.where(enough, value, np.nan)
    return result


# Elements sorted at once by the trailing quantile; bounds memory for thousands of series.
_SORT_CELLS = 4_000_000


def trailing_quantile(
    a: FloatArray, window: int, min_count: int, q: float, rows_from: int = 0
) -> FloatArray:
    """Quantile of rows t-window..t-1 (strictly before t) ignoring NaN, for rows >= rows_from.

    Rows before ``rows_from`` (and rows with fewer than ``min_count`` values) are NaN.
    """
    rows, cols = a.shape
    out = np.full_like(a, np.nan)
    padded = np.vstack([np.full((window, cols), np.nan), a])
    view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)  # row i: a[i-w:i]
    step = max(1, _SORT_CELLS // max(window * cols, 1))
    for r0 in range(max(rows_from, 0), rows, step):
        r1 = min(r0 + step, rows)
        ordered = np.sort(view[r0:r1], axis=-1)
        out[r0:r1] = _sorted_quantile(ordered, q, min_count, axis=-1)
    return out


def _centred_mean(a: FloatArray, half: int) -> FloatArray:
    """Mean over rows t-half..t+half; NaN near the edges or where a NaN is inside."""
    if half == 0:
        return a.copy()
    summed = trailing_sum(a, 2 * half + 1)
    out = np.full_like(a, np.nan)
    out[: a.shape[0] - half] = summed[half:] / (2 * half + 1)
    return out


def _lag_median(
    smoothed: FloatArray, lag: int, count: int, rows: IntArray
) -> tuple[FloatArray, IntArray]:
    stack = np.stack([_lagged(smoothed, k * lag, rows) for k in range(1, count + 1)])
    available: IntArray = np.sum(~np.isnan(stack), axis=0).astype(np.int64)
    return nanmedian_small(stack), available


def seasonal_blocks(
    block_counts: FloatArray, grid: Grid, rows_from: int = 0
) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """Expected block totals before the level correction, and the tier used.

    ``block_counts``: blocks x series, NaN where a block was not fully observed. The result has
    one row more: the block after the last one. Rows before ``rows_from`` are not computed
    (NaN, tier none).
    """
    rows, series = block_counts.shape
    ext = np.vstack([block_counts, np.full((1, series), np.nan)])
    rows_from = max(0, min(rows_from, rows))
    wanted = np.arange(rows_from, rows + 1)
    half = round(SEASONAL_HALF_WIDTH / grid.block)
    smoothed = _centred_mean(ext, half)
    weekly, n_weekly = _lag_median(smoothed, grid.blocks_in(WEEK), WEEKLY_LAGS_MAX, wanted)
    part_tier = np.full(weekly.shape, TIER_NONE, dtype=np.int8)
    part = np.where(n_weekly >= WEEKLY_LAGS_MIN, weekly, np.nan)
    part_tier[n_weekly >= WEEKLY_LAGS_MIN] = TIER_WEEKLY
    # Younger series only: the daily and recent tiers are computed for their columns alone.
    young = np.flatnonzero((part_tier == TIER_NONE).any(axis=0))
    if young.size:
        daily, n_daily = _lag_median(
            smoothed[:, young], grid.blocks_in(DAY), DAILY_LAGS_MAX, wanted
        )
        sub = part[:, young]
        sub_tier = part_tier[:, young]
        use = (sub_tier == TIER_NONE) & (n_daily >= DAILY_LAGS_MIN)
        sub[use] = daily[use]
        sub_tier[use] = TIER_DAILY
        cold = np.flatnonzero((sub_tier == TIER_NONE).any(axis=0))
        if cold.size:
            recent = trailing_quantile(
                ext[:, young[cold]],
                grid.blocks_in(RECENT_LOOKBACK),
                grid.blocks_in(RECENT_MIN),
                RECENT_QUANTILE,
                rows_from,
            )[rows_from:]
            cold_sub = sub[:, cold]
            cold_tier = sub_tier[:, cold]
            use = (cold_tier == TIER_NONE) & ~np.isnan(recent)
            cold_sub[use] = recent[use]
            cold_tier[use] = TIER_RECENT
            sub[:, cold] = cold_sub
            sub_tier[:, cold] = cold_tier
        part[:, young] = sub
        part_tier[:, young] = sub_tier
    seasonal = np.full((rows + 1, series), np.nan)
    tier = np.full((rows + 1, series), TIER_NONE, dtype=np.int8)
    floor = MIN_REPORTS_PER_DAY * (grid.block / DAY)
    seasonal[rows_from:] = np.where(np.isnan(part), np.nan, np.maximum(part, floor))
    tier[rows_from:] = part_tier
    return seasonal, tier


def level_ratio(
    block_counts: FloatArray,
    seasonal: FloatArray,
    tier: npt.NDArray[np.int8],
    grid: Grid,
    rows_from: int = 0,
) -> FloatArray:
    """Median over the last ``LEVEL_DAYS`` days of observed / seasonal, per block.

    Uses days ending at the block's start. 1 where there is nothing to compare or the tier has
    no seasonal shape (the recent tier is a level already).
    """
    rows, series = block_counts.shape
    ext = np.vstack([block_counts, np.full((1, series), np.nan)])
    rows_from = max(0, min(rows_from, rows))
    wanted = np.arange(rows_from, rows + 1)
    day = grid.blocks_in(DAY)
    observed = trailing_sum(ext, day)
    expected = trailing_sum(seasonal, day)
    ratios = (observed + LEVEL_PRIOR_REPORTS) / (expected + LEVEL_PRIOR_REPORTS)
    stack = np.stack([_lagged(ratios, 1 + d * day, wanted) for d in range(LEVEL_DAYS)])
    ratio = nanmedian_small(stack)
    ratio = np.where(np.isnan(ratio), 1.0, np.clip(ratio, LEVEL_RATIO_MIN, LEVEL_RATIO_MAX))
    lag_based = (tier[rows_from:] == TIER_WEEKLY) | (tier[rows_from:] == TIER_DAILY)
    level = np.ones((rows + 1, series))
    level[rows_from:] = np.where(lag_based, ratio, 1.0)
    return level


def bucket_expected(
    seasonal: FloatArray,
    level: FloatArray,
    tier: npt.NDArray[np.int8],
    grid: Grid,
    first_block: int,
    first_position: int,
    rows: int,
) -> FloatArray:
    """Expected reports per bucket for ``rows`` buckets starting at a global position.

    Lag-based tiers are interpolated between the centres of neighbouring blocks (still causal:
    a neighbouring block's seasonal value comes from a day or a week earlier).
    """
    per = grid.per_block
    position = first_position + np.arange(rows)
    block_row = position // per - first_block
    offset = ((position % per) + 0.5) / per - 0.5  # -0.5 at a block's start, +0.5 at its end
    here = seasonal[block_row]
    rate = here.copy()
    if per > 1:
        lag_based = (tier == TIER_WEEKLY) | (tier == TIER_DAILY)
        usable = np.where(lag_based, seasonal, np.nan)
        prev = usable[np.maximum(block_row - 1, 0)]
        prev[block_row == 0] = np.nan
        nxt = usable[np.minimum(block_row + 1, usable.shape[0] - 1)]
        nxt[block_row + 1 >= usable.shape[0]] = np.nan
        shaped = lag_based[block_row]
        prev = np.where(np.isnan(prev), here, prev)
        nxt = np.where(np.isnan(nxt), here, nxt)
        off = offset[:, None]
        interpolated = np.where(off < 0, here + off * (here - prev), here + off * (nxt - here))
        rate = np.where(shaped, interpolated, here)
    floor = MIN_REPORTS_PER_DAY * (grid.bucket / DAY)
    mu: FloatArray = np.maximum(rate * level[block_row] / per, floor)
    return mu


def within_block_dispersion(counts: FloatArray, expected: FloatArray, per_block: int) -> FloatArray:
    """One estimate of alpha_ind per block from the spread of its buckets around its own level.

    ``counts`` and ``expected`` are blocks x buckets-per-block x series. Scaling the expectation
    to the block's observed total first removes hour-level error, which alpha_cor measures.
    """
    if per_block < 2:
        return np.full((counts.shape[0], counts.shape[2]), np.nan)
    total = counts.sum(axis=1)
    exp_total = expected.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fitted = expected * (total / exp_total)[:, None, :]
        spread = np.sum((counts - fitted) ** 2, axis=1) * per_block / (per_block - 1)
        power = np.sum(fitted**2, axis=1)
        est: FloatArray = (spread - np.sum(fitted, axis=1)) / power
    return np.where((total > 0) & (power > 0), est, np.nan)


def dispersion(
    block_counts: FloatArray,
    block_expected: FloatArray,
    ind_estimates: FloatArray,
    grid: Grid,
    rows_from: int = 0,
) -> tuple[FloatArray, FloatArray]:
    """alpha_ind and alpha_cor per block (one row more than ``block_counts``), from earlier blocks.

    ``ind_estimates`` are within-block estimates (NaN where buckets were not available). The
    hour-level statistic is (observed - expected)^2 / expected, whose median is about
    0.455 * (1 + (alpha_ind / buckets per block + alpha_cor) * expected); the current
    alpha_ind is subtracted to leave alpha_cor.
    """
    rows, series = block_counts.shape
    pad = np.full((1, series), np.nan)
    ind = np.vstack([ind_estimates, pad])
    if grid.per_block > 1:
        alpha_ind = trailing_quantile(
            ind, grid.blocks_in(IND_LOOKBACK), IND_MIN_BLOCKS, 0.5, rows_from
        )
        alpha_ind = np.where(np.isnan(alpha_ind), ALPHA_IND_DEFAULT, alpha_ind)
        alpha_ind = np.clip(alpha_ind, 0.0, ALPHA_MAX)
    else:
        alpha_ind = np.zeros((rows + 1, series))
    observed = np.vstack([block_counts, pad])
    with np.errstate(invalid="ignore", divide="ignore"):
        squared = (observed - block_expected) ** 2 / block_expected
        inverse = 1.0 / block_expected
    lookback = grid.blocks_in(COR_LOOKBACK)
    min_blocks = min(COR_MIN_BLOCKS, lookback)
    scale = trailing_quantile(squared, lookback, min_blocks, 0.5, rows_from) / CHI2_1_MEDIAN
    typical = trailing_quantile(inverse, lookback, min_blocks, 0.5, rows_from)
    alpha_cor = (scale - 1.0) * typical - alpha_ind / grid.per_block
    alpha_cor = np.where(np.isnan(alpha_cor), ALPHA_COR_DEFAULT, alpha_cor)
    return alpha_ind, np.clip(alpha_cor, 0.0, ALPHA_MAX)


def block_sums(counts: FloatArray, grid: Grid, first_position: int) -> tuple[FloatArray, int]:
    """Per-block totals of a bucket matrix; NaN for blocks not fully inside it or with a NaN.

    Returns the totals and the block number of their first row.
    """
    per = grid.per_block
    lead = first_position % per
    rows, series = counts.shape
    blocks = -(-(lead + rows) // per)
    padded = np.full((blocks * per, series), np.nan)
    padded[lead : lead + rows] = counts
    sums: FloatArray = padded.reshape(blocks, per, series).sum(axis=1)
    return sums, first_position // per


def fit(
    counts: FloatArray,
    grid: Grid,
    first_position: int,
    history: FloatArray | None = None,
    history_first_block: int = 0,
    exact_from: int = 0,
) -> tuple[BlockBaseline, FloatArray]:
    """The baseline for a bucket matrix (buckets x series, NaN = not observed).

    ``history`` optionally holds earlier block totals (blocks x series, same columns) starting at
    block ``history_first_block``; blocks fully covered by ``counts`` are taken from ``counts``.
    ``exact_from``: first bucket row whose dispersion is needed (earlier rows only feed it).
    Returns the per-block baseline and the expected count of every bucket in ``counts``.
    """
    per = grid.per_block
    rows, series = counts.shape
    sums, first_block = block_sums(counts, grid, first_position)
    if history is not None and history.shape[0] > 0:
        start = min(first_block, history_first_block)
        stop = max(first_block + sums.shape[0], history_first_block + history.shape[0])
        merged = np.full((stop - start, series), np.nan)
        h0 = history_first_block - start
        merged[h0 : h0 + history.shape[0]] = history
        w0 = first_block - start
        window = merged[w0 : w0 + sums.shape[0]]
        merged[w0 : w0 + sums.shape[0]] = np.where(np.isnan(sums), window, sums)
        # The last block of the bucket window is still filling up: history cannot complete it.
        merged[w0 + sums.shape[0] - 1] = sums[-1]
        block_counts, base_block = merged[: w0 + sums.shape[0]], start
    else:
        block_counts, base_block = sums, first_block
    w0 = first_block - base_block
    # Rows each stage needs: dispersion from the first evaluated block, which looks back a week
    # at expected totals, whose level looks back another week at seasonal totals.
    exact_block = (first_position + exact_from) // per - base_block
    cor_back = grid.blocks_in(COR_LOOKBACK)
    level_back = LEVEL_DAYS * grid.blocks_in(DAY) + 1
    level_from = min(w0, exact_block - cor_back)
    seasonal_from = min(w0 - 1, level_from - level_back)
    seasonal, tier = seasonal_blocks(block_counts, grid, seasonal_from)
    level = level_ratio(block_counts, seasonal, tier, grid, level_from)
    mu = bucket_expected(seasonal, level, tier, grid, base_block, first_position, rows)

    lead = first_position % per
    blocks = sums.shape[0]
    padded_y = np.full((blocks * per, series), np.nan)
    padded_mu = np.full((blocks * per, series), np.nan)
    padded_y[lead : lead + rows] = counts
    padded_mu[lead : lead + rows] = mu
    ind_window = within_block_dispersion(
        padded_y.reshape(blocks, per, series), padded_mu.reshape(blocks, per, series), per
    )
    ind = np.full(block_counts.shape, np.nan)
    ind[w0:] = ind_window[: block_counts.shape[0] - w0]
    alpha_ind, alpha_cor = dispersion(
        block_counts, seasonal * level, ind, grid, max(exact_block, 0)
    )
    baseline = BlockBaseline(
        first_block=base_block,
        seasonal=seasonal,
        level=level,
        tier=tier,
        alpha_ind=alpha_ind,
        alpha_cor=alpha_cor,
    )
    return baseline, mu


def nanos(index: pd.DatetimeIndex) -> IntArray:
    """Timestamps as integer nanoseconds whatever the index's own resolution."""
    values: IntArray = index.as_unit("ns").asi8
    return values


def infer_bucket(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The most common gap between consecutive timestamps."""
    if len(index) < 2:
        raise ValueError("need at least two timestamps to infer the bucket size")
    gaps = pd.Series(np.diff(nanos(index))).mode()
    return pd.Timedelta(int(gaps.min()), unit="ns")


def regular(counts: pd.Series, bucket: pd.Timedelta) -> pd.Series:
    """Counts on a regular UTC grid from the first to the last timestamp; missing buckets are 0."""
    index = pd.DatetimeIndex(counts.index)
    if index.tz is None:
        index = index.tz_localize("UTC")
    else:
        index = index.tz_convert("UTC")
    values = pd.Series(counts.to_numpy(dtype=np.float64), index=index)
    if values.empty:
        return values
    full = pd.date_range(index[0], index[-1], freq=bucket)
    if not index.isin(full).all():
        raise ValueError(f"timestamps are not on a regular {bucket} grid")
    return values.reindex(full, fill_value=0.0)


def expected(counts: pd.Series | pd.DataFrame, bucket: pd.Timedelta | None = None) -> pd.DataFrame:
    """Expected reports per bucket, with the tier and dispersion in force for each bucket.

    ``counts``: a Series of counts with a DatetimeIndex, or a wide DataFrame (index: regular
    bucket timestamps, one column per series; NaN = not observed). For a Series, missing buckets
    are filled with zero. Returns, for a Series, a DataFrame with columns ``expected``, ``tier``,
    ``alpha_ind``, ``alpha_cor``; for a wide frame, the expected counts in the same shape.
    """
    if isinstance(counts, pd.Series):
        grid_bucket = bucket if bucket is not None else infer_bucket(pd.DatetimeIndex(counts.index))
        series = regular(counts, grid_bucket)
        grid = grid_for(grid_bucket)
        matrix = series.to_numpy(dtype=np.float64)[:, None]
        first = grid.position(pd.Timestamp(series.index[0]))
        baseline, mu = fit(matrix, grid, first)
        rows = (first + np.arange(len(series))) // grid.per_block - baseline.first_block
        return pd.DataFrame(
            {
                "expected": mu[:, 0],
                "tier": pd.Categorical.from_codes(
                    baseline.tier[rows, 0].astype(np.int64),
                    categories=pd.Index([TIER_NAMES[i] for i in range(4)]),
                ),
                "alpha_ind": baseline.alpha_ind[rows, 0],
                "alpha_cor": baseline.alpha_cor[rows, 0],
            },
            index=series.index,
        )
    index = pd.DatetimeIndex(counts.index)
    grid_bucket = bucket if bucket is not None else infer_bucket(index)
    grid = grid_for(grid_bucket)
    first = grid.position(pd.Timestamp(index[0]))
    _, mu = fit(counts.to_numpy(dtype=np.float64), grid, first)
    return pd.DataFrame(mu, index=counts.index, columns=counts.columns)
