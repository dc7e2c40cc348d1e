"""NAB scoring: the Numenta Anomaly Benchmark's rules (v1.1) for detections on labelled series.

Used by ``bench/detect_quality.py`` on the real series in ``bench/realdata``. Pure numpy/pandas.

A file has rows 0..n-1 (its timestamps) and labelled windows, each the rows whose timestamps lie
between the window's start and end, inclusive: first row ``l``, last row ``r``, width
``w = r - l + 1``. A detection is a row where the detector says "now" (for Outage Radar: an
incident opening, a 0 -> 1 step of the outage state; ``onsets``).

* Probation: the first ``min(floor(0.15 n), 750)`` rows are not scored (a detector is still
  learning there); a detection in them counts for nothing.
* ``S(x) = 2 / (1 + e^(5x)) - 1`` for ``x <= 3``, else -1: 1 well before a point, 0 at it,
  -1 well after.
* Inside window k, a detection at row i is worth ``A_TP * S(-(r - i + 1) / w) / S(-1)``:
  exactly ``A_TP`` at the window's first row, 0.86 ``A_TP`` halfway, close to 0 at its last
  row. Only the earliest detection of a window counts; the
  others in the same window are free. A window without a detection costs ``A_FN``.
* Outside every window, each detection costs ``A_FP * S((i - r_p) / (w_p - 1))`` where p is
  the last window that ended before row i (cheap just after a window, the full ``A_FP`` from
  three widths on), or ``A_FP`` when no window came before.
* A window with no row after probation is neither found nor missed.
* Profiles (A_TP, A_FP, A_FN): standard (1, 0.11, 1), reward_low_FP_rate (1, 0.22, 1),
  reward_low_FN_rate (1, 0.11, 2).
* A corpus's raw score is the sum of its files'. Normalised score
  ``100 * (raw - null) / (perfect - null)``: null is the raw score of no detections at all
  (every window missed), perfect is ``A_TP`` for every labelled window. 0 is doing nothing,
  100 is every window found at its first row with no other detection.

Checked against an independent implementation of the same rules, one that reproduces NAB's
published totals: ``python bench/nab_check.py DIR`` (DIR holding its ``nab_score.py``) scores the
detector's onsets on the five real files and 200 random detection masks with both, all three
profiles; the largest difference was below 1e-12. ``tests/bench/test_nab.py`` pins hand-computed
cases.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PROBATION_SHARE = 0.15
# NAB caps probation at what a 5,000-row file gets (15 % of 5,000).
PROBATION_MAX_ROWS = 750


@dataclass(frozen=True)
class Profile:
    tp: float
    fp: float
    fn: float


PROFILES = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": Profile(tp=1.0, fp=0.11, fn=2.0),
}


@dataclass(frozen=True)
class Labelled:
    """One labelled file: its rows' timestamps (UTC) and values, and its windows as
    (first row, last row), in time order."""

    name: str
    timestamps: pd.DatetimeIndex
    values: FloatArray
    windows: tuple[tuple[int, int], ...]

    @property
    def rows(self) -> int:
        return len(self.timestamps)


@dataclass(frozen=True)
class FileScore:
    name: str
    raw: float
    windows: int
    windows_found: int
    # Detections after probation, inside a window (all of them, not only the earliest) and
    # outside every window (each one charged).
    detections_in_windows: int
    detections_outside: int


@dataclass(frozen=True)
class CorpusScore:
    normalized: float
    raw: float
    null: float
    perfect: float
    files: tuple[FileScore, ...]


def scaled_sigmoid(x: npt.ArrayLike) -> FloatArray:
    """NAB's S(x): 2 / (1 + e^(5x)) - 1, and -1 beyond x = 3."""
    arr = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        out: FloatArray = np.where(arr > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * arr)) - 1.0)
    return out


# The worth of a detection at a window's first row, before scaling to A_TP.
FIRST_ROW = float(scaled_sigmoid(-1.0))


def probation_rows(rows: int) -> int:
    return min(math.floor(PROBATION_SHARE * rows), PROBATION_MAX_ROWS)


def onsets(flag: npt.ArrayLike) -> BoolArray:
    """Rows where a 0/1 flag steps from 0 to 1 (the first row counts if it is 1)."""
    on = np.asarray(flag, dtype=bool)
    out: BoolArray = on & ~np.concatenate([[False], on[:-1]])
    return out


def window_rows(
    timestamps: pd.DatetimeIndex, windows: Sequence[tuple[pd.Timestamp, pd.Timestamp]]
) -> tuple[tuple[int, int], ...]:
    """(first row, last row) of each window: the rows whose timestamps lie in [start, end]."""
    stamps = timestamps.as_unit("ns").asi8
    out: list[tuple[int, int]] = []
    for start, end in windows:
        first = int(np.searchsorted(stamps, pd.Timestamp(start).as_unit("ns").value, "left"))
        last = int(np.searchsorted(stamps, pd.Timestamp(end).as_unit("ns").value, "right")) - 1
        if last < first:
            raise ValueError(f"window {start} .. {end} holds no row")
        if out and first <= out[-1][1]:
            raise ValueError(f"window {start} .. {end} overlaps the one before or is out of order")
        out.append((first, last))
    return tuple(out)


def row_values(file: Labelled, profile: Profile) -> tuple[IntArray, FloatArray]:
    """Per row: the window it lies in (-1 outside) and what a detection there is worth."""
    n = file.rows
    rows = np.arange(n)
    window = np.full(n, -1, dtype=np.int64)
    value = np.full(n, -profile.fp)  # outside, no window before
    for k, (first, last) in enumerate(file.windows):
        width = last - first + 1
        inside = rows[first : last + 1]
        window[first : last + 1] = k
        value[first : last + 1] = (
            profile.tp * scaled_sigmoid(-(last - inside + 1) / width) / FIRST_ROW
        )
        until = file.windows[k + 1][0] if k + 1 < len(file.windows) else n
        after = rows[last + 1 : until]
        if width > 1:
            value[last + 1 : until] = profile.fp * scaled_sigmoid((after - last) / (width - 1))
        else:
            value[last + 1 : until] = -profile.fp  # a one-row window has no width to scale by
    return window, value


def score_file(file: Labelled, detections: npt.ArrayLike, profile: Profile) -> FileScore:
    """NAB's raw score of one file for a per-row detection mask."""
    mask = np.asarray(detections, dtype=bool)
    if mask.shape != (file.rows,):
        raise ValueError(f"{file.name}: {mask.shape[0]} detection rows for {file.rows} rows")
    window, value = row_values(file, profile)
    scored = np.arange(file.rows) >= probation_rows(file.rows)
    hits = mask & scored
    inside = hits & (window >= 0)
    outside = hits & (window < 0)
    raw = float(value[outside].sum())
    found = 0
    for k, (_, last) in enumerate(file.windows):
        if not scored[last]:
            continue  # wholly inside probation
        first_hit = np.flatnonzero(inside & (window == k))
        if first_hit.size:
            raw += float(value[first_hit[0]])  # the earliest is worth the most
            found += 1
        else:
            raw -= profile.fn
    return FileScore(
        name=file.name,
        raw=raw,
        windows=len(file.windows),
        windows_found=found,
        detections_in_windows=int(inside.sum()),
        detections_outside=int(outside.sum()),
    )


def score_corpus(
    files: Sequence[Labelled], detections: Mapping[str, npt.ArrayLike], profile: Profile
) -> CorpusScore:
    """Raw and normalised score of every file together; a file missing from ``detections``
    has none."""
    scores = tuple(
        score_file(f, detections.get(f.name, np.zeros(f.rows, dtype=bool)), profile) for f in files
    )
    null = sum(score_file(f, np.zeros(f.rows, dtype=bool), profile).raw for f in files)
    raw = sum(s.raw for s in scores)
    perfect = profile.tp * sum(len(f.windows) for f in files)
    normalized = 100.0 * (raw - null) / (perfect - null) if perfect != null else math.nan
    return CorpusScore(normalized=normalized, raw=raw, null=null, perfect=perfect, files=scores)


def load_corpus(root: Path) -> list[Labelled]:
    """NAB's layout: ``root/labels/combined_windows.json`` naming ``root/data/<name>`` files of
    ``timestamp,value`` rows (timestamps without an offset are UTC)."""
    labels = json.loads((root / "labels" / "combined_windows.json").read_text(encoding="utf-8"))
    files: list[Labelled] = []
    for name in sorted(labels):
        frame = pd.read_csv(root / "data" / name)
        stamps = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True)).as_unit("ns")
        bounds = [(pd.Timestamp(a, tz="UTC"), pd.Timestamp(b, tz="UTC")) for a, b in labels[name]]
        files.append(
            Labelled(
                name=name,
                timestamps=stamps,
                values=frame["value"].to_numpy(dtype=np.float64),
                windows=window_rows(stamps, bounds),
            )
        )
    return files
