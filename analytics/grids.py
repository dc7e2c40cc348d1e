"""Report counts of every (service, country) pair on a regular time grid, and the detection
series built from them. Pure numpy, no database.

The detection task reads 30 hours of minutes and 7 weeks of hours for thousands of series on
every pass, but between two passes only the last few minutes change. A ``PairGrid`` holds those
counts so that a pass can keep what is final and replace only the rest (``grid_update``); the
series are then built from the grid the same way whether it was read whole or updated
(``grid_series``, equal to ``selectors.to_wide`` over ``selectors.minute_series`` rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
CountArray = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

# A country code is at most two characters; each is one code point (21 bits), so the pair
# (service, country) packs into one integer whose order is (service, country as text).
CHAR_BITS = 21
COUNTRY_BITS = 2 * CHAR_BITS
CHAR_MASK = (1 << CHAR_BITS) - 1


def country_code(country: str) -> int:
    """A country code as an integer ordered like the text ("" is 0)."""
    if len(country) > 2:
        raise ValueError(f"not a country code: {country!r}")
    padded = [ord(ch) for ch in country] + [0, 0]
    return (padded[0] << CHAR_BITS) | padded[1]


def country_text(code: int) -> str:
    return "".join(chr(c) for c in (code >> CHAR_BITS, code & CHAR_MASK) if c)


@dataclass(frozen=True)
class PairRows:
    """Stored rows as arrays: one count per (service, country code, time in epoch seconds)."""

    service: IntArray
    country: IntArray
    t: IntArray
    count: IntArray

    def keys(self) -> IntArray:
        keys: IntArray = (self.service << COUNTRY_BITS) | self.country
        return keys


@dataclass(frozen=True)
class PairGrid:
    """Counts per bucket (rows) and (service, country) pair (columns, sorted by key)."""

    start: int  # epoch seconds of the first bucket
    step: int  # seconds per bucket
    pairs: IntArray  # (service << COUNTRY_BITS) | country code
    counts: CountArray
    # A stored row exists for the cell (a series exists from its first row, even of 0 reports).
    present: BoolArray

    @property
    def end(self) -> int:
        return self.start + self.counts.shape[0] * self.step


def _place(
    rows: PairRows, pairs: IntArray, counts: CountArray, present: BoolArray, start: int, step: int
) -> None:
    offset = (rows.t - start) // step
    inside = (offset >= 0) & (offset < counts.shape[0])
    column = np.searchsorted(pairs, rows.keys()[inside])
    np.add.at(counts, (offset[inside], column), rows.count[inside].astype(np.int32))
    present[offset[inside], column] = True


def grid_build(rows: PairRows, *, start: int, buckets: int, step: int) -> PairGrid:
    """The grid of [start, start + buckets * step) from the rows (others are ignored)."""
    return grid_update(None, rows, start=start, buckets=buckets, step=step, keep_until=start)


def grid_update(
    old: PairGrid | None,
    rows: PairRows,
    *,
    start: int,
    buckets: int,
    step: int,
    keep_until: int,
) -> PairGrid:
    """A grid of [start, start + buckets * step): buckets before ``keep_until`` from ``old``,
    the others from ``rows`` (which must hold every stored row from ``keep_until`` on).

    ``old`` must cover [start, keep_until). Pairs without any row left in the grid are dropped.
    """
    keep = (keep_until - start) // step
    if keep < 0 or (keep_until - start) % step:
        raise ValueError("keep_until must be a bucket boundary inside the grid")
    offset = (rows.t - start) // step
    fresh = (offset >= keep) & (offset < buckets)
    fresh_pairs = np.unique(rows.keys()[fresh])
    if keep and old is not None:
        if old.step != step or old.start > start or old.end < keep_until:
            raise ValueError("the old grid does not cover the buckets to keep")
        first = (start - old.start) // step
        kept_counts = old.counts[first : first + keep]
        kept_present = old.present[first : first + keep]
        alive = kept_present.any(axis=0)
        pairs = np.union1d(old.pairs[alive], fresh_pairs)
    elif keep:
        raise ValueError("buckets to keep need an old grid")
    else:
        pairs = fresh_pairs
    counts = np.zeros((buckets, len(pairs)), dtype=np.int32)
    present = np.zeros((buckets, len(pairs)), dtype=bool)
    if keep and old is not None:
        if alive.all() and np.array_equal(pairs, old.pairs):
            # The usual pass: the same pairs, whole rows copied.
            counts[:keep] = kept_counts
            present[:keep] = kept_present
        else:
            columns = np.searchsorted(pairs, old.pairs[alive])
            counts[:keep, columns] = kept_counts[:, alive]
            present[:keep, columns] = kept_present[:, alive]
    subset = PairRows(rows.service[fresh], rows.country[fresh], rows.t[fresh], rows.count[fresh])
    _place(subset, pairs, counts, present, start, step)
    return PairGrid(start=start, step=step, pairs=pairs, counts=counts, present=present)


@dataclass(frozen=True)
class Series:
    """Detection series as a matrix: buckets x series, NaN before a series' first report."""

    labels: list[str]  # "12" (service 12 worldwide) or "12:BR", sorted as text
    service: IntArray
    country: list[str]  # "" for worldwide
    matrix: FloatArray


def grid_series(grid: PairGrid, countries: set[tuple[int, str]]) -> Series:
    """Every service worldwide (all its countries summed) and the given (service, country)
    pairs, as ``to_wide`` builds them from ``minute_series`` / ``hour_series`` rows."""
    service = grid.pairs >> COUNTRY_BITS
    services, first = np.unique(service, return_index=True)
    pair_present = grid.present.any(axis=0)
    world_present = (
        np.logical_or.reduceat(pair_present, first) if len(services) else np.zeros(0, dtype=bool)
    )
    busy_keys = np.asarray(
        sorted((s << COUNTRY_BITS) | country_code(c) for s, c in countries), dtype=np.int64
    )
    busy = np.isin(grid.pairs, busy_keys) & pair_present
    world_services = services[world_present]
    busy_pairs = grid.pairs[busy]
    busy_services = busy_pairs >> COUNTRY_BITS
    busy_countries = [country_text(c) for c in (busy_pairs & ((1 << COUNTRY_BITS) - 1)).tolist()]
    labels = [str(s) for s in world_services.tolist()]
    labels += [f"{s}:{c}" for s, c in zip(busy_services.tolist(), busy_countries, strict=True)]
    order = np.argsort(np.asarray(labels, dtype=object), kind="stable")
    position = np.empty(len(labels), dtype=np.int64)
    position[order] = np.arange(len(labels))
    rows, n_world = grid.counts.shape[0], len(world_services)
    values = np.empty((rows, len(labels)), dtype=np.float64)
    if n_world:
        world = np.add.reduceat(grid.counts, first, axis=1)
        values[:, position[:n_world]] = world[:, world_present]
    values[:, position[n_world:]] = grid.counts[:, busy]
    # Not observed (NaN) before a series' first report.
    positive = values > 0
    first_row = np.where(positive.any(axis=0), positive.argmax(axis=0), rows)
    np.copyto(values, np.nan, where=np.arange(rows)[:, None] < first_row[None, :])
    every_service = np.concatenate([world_services, busy_services])[order]
    every_country = [""] * n_world + busy_countries
    return Series(
        labels=[labels[i] for i in order],
        service=every_service,
        country=[every_country[i] for i in order],
        matrix=values,
    )
