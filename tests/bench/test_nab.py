"""bench/nab.py, NAB's scoring rules, on small hand-built files with hand-computed scores.

NAB's S(x) = 2 / (1 + e^(5x)) - 1 is -tanh(5x / 2); the expected values below are written with
tanh, so they do not repeat the scorer's own formula.
"""

import math

import numpy as np
import pandas as pd
import pytest

from bench import nab

STANDARD = nab.PROFILES["standard"]
LOW_FP = nab.PROFILES["reward_low_FP_rate"]
LOW_FN = nab.PROFILES["reward_low_FN_rate"]
FIRST_ROW = math.tanh(2.5)  # S(-1)


def labelled(
    rows: int = 100, windows: tuple[tuple[int, int], ...] = ((40, 49), (70, 74)), name: str = "f"
) -> nab.Labelled:
    """A file of ``rows`` five-minute rows; probation is its first 15 rows when rows = 100."""
    stamps = pd.date_range("2025-01-06", periods=rows, freq="5min", tz="UTC")
    return nab.Labelled(name, stamps, np.zeros(rows), windows)


def mask(rows: int, *hits: int) -> np.ndarray:
    out = np.zeros(rows, dtype=bool)
    out[list(hits)] = True
    return out


def raw(file: nab.Labelled, *hits: int, profile: nab.Profile = STANDARD) -> float:
    return nab.score_file(file, mask(file.rows, *hits), profile).raw


def test_a_detection_at_a_windows_first_row_is_worth_exactly_a_true_positive() -> None:
    file = labelled()
    score = nab.score_file(file, mask(100, 40, 70), STANDARD)
    assert score.raw == pytest.approx(2.0, abs=1e-12)
    assert score.windows_found == 2 and score.detections_outside == 0


def test_a_later_detection_is_worth_less_down_to_the_last_row() -> None:
    file = labelled()
    # Last row of a 10-row window: S(-1/10) / S(-1); window 2 missed: -1.
    assert raw(file, 49) == pytest.approx(math.tanh(0.25) / FIRST_ROW - 1, abs=1e-12)
    assert raw(file, 49) == pytest.approx(0.248241550 - 1, abs=1e-9)
    # Halfway (row 45: 5 rows left of 10): S(-0.5) / S(-1) = 0.8598.
    assert raw(file, 45, 70) == pytest.approx(math.tanh(1.25) / FIRST_ROW + 1, abs=1e-12)


def test_only_the_earliest_detection_of_a_window_counts() -> None:
    file = labelled()
    expected = math.tanh(2.25) / FIRST_ROW - 1  # row 41: 9 of 10 rows left, S(-0.9)
    assert raw(file, 45, 41, 48) == pytest.approx(expected, abs=1e-12)
    assert raw(file, 41) == pytest.approx(expected, abs=1e-12)
    assert nab.score_file(file, mask(100, 45, 41, 48), STANDARD).detections_in_windows == 3


def test_detections_outside_windows_cost_by_their_distance_after_the_last_window() -> None:
    file = labelled()
    both = 2.0  # both windows found at their first rows
    # Row 20: no window before it, the full A_FP.
    assert raw(file, 40, 70, 20) == pytest.approx(both - 0.11, abs=1e-12)
    # Row 55, 6 rows after a 10-row window: A_FP * S(6 / 9).
    assert raw(file, 40, 70, 55) == pytest.approx(both - 0.11 * math.tanh(5 / 3), abs=1e-12)
    assert raw(file, 40, 70, 55) == pytest.approx(both - 0.102422057, abs=1e-9)
    # Row 50, right after the window: S(1 / 9), cheap; row 99, 25 rows after a 5-row window
    # (x = 6.25 > 3): the full A_FP.
    assert raw(file, 40, 70, 50) == pytest.approx(both - 0.11 * math.tanh(5 / 18), abs=1e-12)
    assert raw(file, 40, 70, 99) == pytest.approx(both - 0.11, abs=1e-12)
    # Every one is charged.
    score = nab.score_file(file, mask(100, 40, 70, 20, 55, 99), STANDARD)
    assert score.detections_outside == 3
    assert score.raw == pytest.approx(both - 0.22 - 0.11 * math.tanh(5 / 3), abs=1e-12)


def test_the_low_fp_profile_doubles_the_cost_of_a_false_detection() -> None:
    file = labelled()
    assert raw(file, 40, 70, 20, profile=LOW_FP) == pytest.approx(2 - 0.22, abs=1e-12)
    assert raw(file, 40, profile=LOW_FN) == pytest.approx(1 - 2, abs=1e-12)


def test_probation_rows_are_not_scored() -> None:
    assert nab.probation_rows(100) == 15
    assert nab.probation_rows(4999) == 749  # floor(749.85)
    assert nab.probation_rows(15_000) == 750  # capped
    file = labelled()
    assert raw(file, 0, 14, 40, 70) == pytest.approx(2.0, abs=1e-12)
    assert raw(file, 15, 40, 70) == pytest.approx(2.0 - 0.11, abs=1e-12)


def test_a_window_inside_probation_is_neither_found_nor_missed() -> None:
    file = labelled(windows=((5, 8), (40, 49)))
    assert raw(file) == pytest.approx(-1.0, abs=1e-12)
    assert raw(file, 6) == pytest.approx(-1.0, abs=1e-12)
    # A detection after probation is still charged by its distance from window (5, 8), width 4:
    # row 15 at x = 7 / 3; row 20 at x = 4, beyond 3, so exactly the full A_FP.
    assert raw(file, 40, 15) == pytest.approx(1 - 0.11 * math.tanh(2.5 * 7 / 3), abs=1e-12)
    assert raw(file, 40, 20) == pytest.approx(1 - 0.11, abs=1e-12)
    assert nab.score_file(file, mask(100, 6), STANDARD).windows_found == 0


def test_a_detection_after_a_one_row_window_costs_the_full_false_positive() -> None:
    file = labelled(windows=((40, 40),))
    assert raw(file, 40, 41) == pytest.approx(1 - 0.11, abs=1e-12)


def test_the_normalised_score_runs_from_no_detections_to_every_window_at_its_first_row() -> None:
    one, two = labelled(name="one"), labelled(name="two", windows=((60, 69),))
    files = [one, two]
    assert nab.score_corpus(files, {}, STANDARD).normalized == 0.0
    perfect = nab.score_corpus(files, {"one": mask(100, 40, 70), "two": mask(100, 60)}, STANDARD)
    assert perfect.normalized == pytest.approx(100.0, abs=1e-9)
    # One window at its first row (+1), two missed (-2), one detection with no window before
    # it (-0.11): raw -1.11, null -3, perfect 3.
    some = {"one": mask(100, 40, 20)}
    got = nab.score_corpus(files, some, STANDARD)
    assert (got.raw, got.null, got.perfect) == pytest.approx((-1.11, -3.0, 3.0), abs=1e-12)
    assert got.normalized == pytest.approx(100 * 1.89 / 6, abs=1e-9)
    assert nab.score_corpus(files, some, LOW_FP).normalized == pytest.approx(
        100 * 1.78 / 6, abs=1e-9
    )
    # Low FN: missing costs 2: raw 1 - 4 - 0.11, null -6, perfect 3.
    assert nab.score_corpus(files, some, LOW_FN).normalized == pytest.approx(
        100 * 2.89 / 9, abs=1e-9
    )


def test_onsets_are_the_zero_to_one_steps() -> None:
    flag = np.array([1, 1, 0, 0, 1, 1, 1, 0, 1])
    assert nab.onsets(flag).nonzero()[0].tolist() == [0, 4, 8]
    assert not nab.onsets(np.zeros(5)).any()


def test_windows_are_the_rows_between_their_timestamps_inclusive() -> None:
    stamps = pd.date_range("2025-01-06", periods=10, freq="5min", tz="UTC")
    at = pd.Timestamp("2025-01-06", tz="UTC")
    minutes = pd.Timedelta(minutes=1)
    assert nab.window_rows(stamps, [(at + 10 * minutes, at + 20 * minutes)]) == ((2, 4),)
    assert nab.window_rows(stamps, [(at + 11 * minutes, at + 24 * minutes)]) == ((3, 4),)
    with pytest.raises(ValueError, match="holds no row"):
        nab.window_rows(stamps, [(at + 11 * minutes, at + 14 * minutes)])
    with pytest.raises(ValueError, match="overlaps"):
        nab.window_rows(stamps, [(at, at + 20 * minutes), (at + 20 * minutes, at + 30 * minutes)])


def test_a_mask_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="99 detection rows for 100 rows"):
        nab.score_file(labelled(), np.zeros(99, dtype=bool), STANDARD)
