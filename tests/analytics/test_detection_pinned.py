"""Detection pinned on hand-built inputs: each gate just under and just over its bound, with the
expected numbers written out (Poisson noise, alpha 0, where the tail is a plain
P(X >= x)), and a regression pin of `detect` on a fixed set of seeded series. These pin what
the detector does; its quality is measured by bench/detect_quality.py."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics import detection
from analytics.baseline import grid_for
from analytics.detection import detect
from tests.analytics.synthetic import START, add_outage, series


def col(*values: float) -> np.ndarray:
    return np.array(values, dtype=float)[:, None]


def poisson_score(x: float, mean: float) -> float:
    return float(-np.log10(stats.poisson.sf(x - 1, mean)))


def scores(counts: np.ndarray, mu: float, windows: tuple[int, ...], **kw) -> tuple:
    m = np.full_like(counts, mu)
    zero = np.zeros_like(counts)
    score, strong = detection.window_score(counts, m, zero, zero, windows, **kw)
    return score, strong


# ----------------------------------------------------------------------------- parts


@pytest.mark.parametrize(
    ("minutes", "lengths"),
    [(1, (2, 5, 15, 45, 120)), (2, (1, 2, 8, 22, 60)), (5, (1, 3, 9, 24)), (60, (1, 2))],
)
def test_window_lengths(minutes, lengths):
    assert detection.window_lengths(grid_for(pd.Timedelta(minutes=minutes))) == lengths


def test_bucket_ratio_shrinks_by_five_reports():
    got = detection.bucket_ratio(col(0, 5, 15, np.nan), col(0, 5, 5, 1))[:, 0]
    np.testing.assert_allclose(got[:3], [1.0, 1.0, 2.0])
    assert np.isnan(got[3])


def test_score_from_tail_is_minus_log10_capped_at_99():
    got = detection._score_from_tail(np.array([1.0, 1e-3, 1e-5, 1e-120, 0.0]))
    np.testing.assert_allclose(got, [0.0, 3.0, 5.0, 99.0, 99.0])


def test_nb_tail_edges():
    x = np.array([0.0, 3.0, 3.0, 3.0, 3.0])
    mean = np.array([2.0, 0.0, 2.0, 2.0, 2.0])
    var = np.array([2.0, 0.0, 2.0, 1.0, 2.0 + 4e-8])
    got = detection.nb_tail(x, mean, var)
    poisson = stats.poisson.sf(2, 2.0)
    # x <= 0 or no expectation: certain; var <= mean, or a size beyond 1e8: Poisson.
    np.testing.assert_allclose(got, [1.0, 1.0, poisson, poisson, poisson], rtol=1e-6)
    over = detection.nb_tail(np.array([3.0]), np.array([2.0]), np.array([6.0]))
    size = 4.0 / 4.0
    np.testing.assert_allclose(over, stats.nbinom.sf(2, size, size / (size + 2.0)), rtol=1e-9)


def test_leave_largest_out():
    counts = col(1, 9, 4, 2)
    mu = col(2, 2, 2, 2)
    excess = counts - mu
    observed, expect = detection._leave_largest_out(counts, mu, excess, 3)
    assert np.isnan(observed[:2, 0]).all()
    # Rows 2 and 3: 1+9+4 and 9+4+2 without the 9, expectation 6 less a bucket's 2.
    np.testing.assert_allclose(observed[2:, 0], [5.0, 6.0])
    np.testing.assert_allclose(expect[2:, 0], [4.0, 4.0])


def test_latch():
    opens = col(0, 1, 0, 0, 1, 0, 0).astype(bool)
    closes = col(0, 0, 0, 1, 0, 0, 1).astype(bool)
    assert detection._latch(opens, closes)[:, 0].tolist() == [
        False,
        True,
        True,
        False,
        True,
        True,
        False,
    ]


def test_recent_elevated_gates():
    # Two buckets expecting 2.5 each: exactly 5 expected is telling.
    mu = col(2.5, 2.5)
    assert detection.recent_elevated(col(3.75, 3.75), mu, 2)[1, 0]  # held 7.5 = 1.5 x 5
    assert not detection.recent_elevated(col(3.7, 3.7), mu, 2)[1, 0]
    # Less than 5 expected tells nothing: elevated by default, whatever is held.
    assert detection.recent_elevated(col(0, 0), col(2.4, 2.4), 2)[1, 0]


def test_rise_start_needs_the_excess_too():
    # Elevated means at least 1.5 times and above expectation: zeros expecting zero are not.
    counts = col(0, 0, 0, 3, 3)
    mu = col(0, 0, 0, 1, 1)
    assert detection.rise_start(counts, mu, np.array([4]), 5).tolist() == [3]
    counts = col(3, 0, 3, 3, 3)
    mu = col(2, 1, 2, 2, 2)  # 3 >= 1.5 x 2 exactly
    assert detection.rise_start(counts, mu, np.array([4]), 5).tolist() == [0]
    assert detection.rise_start(counts, mu, np.array([1]), 5).tolist() == [0]
    assert detection.rise_start(counts, mu, np.array([0]), 5).tolist() == [0]


@pytest.mark.parametrize(
    ("mu", "expected"),
    [(0.05, 6.0), (1.0, 9.0), (10.0, 27.0), (100.0, 200.0), (1000.0, 2000.0)],
)
def test_threshold_values(mu, expected):
    m = np.array([[mu]])
    zero = np.zeros_like(m)
    assert detection.threshold(m, zero, zero)[0, 0] == expected


def test_threshold_with_dispersion_and_unknown():
    m = np.array([[20.0], [np.nan]])
    a = np.array([[0.1], [0.1]])
    got = detection.threshold(m, a, a)[:, 0]
    assert got[0] == 91.0
    assert np.isnan(got[1])


# ----------------------------------------------------------------------------- windows


def test_min_ratio_gate_at_exactly_one_and_a_half():
    # Expecting 20 a bucket: 30 in both is 1.5 times, 29 is not (and neither is a run: < 40).
    score, strong = scores(col(30, 30, 29, 29), 20.0, (2,))
    assert score[0, 0] == 0.0
    np.testing.assert_allclose(score[1, 0], poisson_score(30, 20), rtol=1e-9)
    assert score[3, 0] == 0.0
    assert strong[1, 0] == 0.0 and strong[3, 0] == 0.0


def test_min_excess_gate_at_exactly_five():
    # Expecting 2: 7 is five above (both windows and runs need that), 6 is not.
    score, strong = scores(col(7, 7), 2.0, (2,))
    np.testing.assert_allclose(score[1, 0], poisson_score(7, 2), rtol=1e-9)
    np.testing.assert_allclose(strong[1, 0], poisson_score(7, 2), rtol=1e-9)
    score, strong = scores(col(6, 6), 2.0, (2,))
    assert score[1, 0] == 0.0 and strong[1, 0] == 0.0


def test_outage_ratio_gate_at_exactly_two():
    # Expecting 20: 40 and 40 is twice (outage score); 39 and 39 is possible-level only.
    score, strong = scores(col(39, 39), 20.0, (2,))
    np.testing.assert_allclose(score[1, 0], poisson_score(39, 20), rtol=1e-9)
    assert strong[1, 0] == 0.0
    score, strong = scores(col(40, 41), 20.0, (2,))
    # Both buckets at twice: the run (81 against 40, less 3) beats the window (40 against 20).
    np.testing.assert_allclose(score[1, 0], poisson_score(81, 40) - 3.0, rtol=1e-9)
    np.testing.assert_allclose(score[1, 0], 5.082, atol=1e-3)
    np.testing.assert_allclose(strong[1, 0], score[1, 0])


def test_a_window_leaves_its_largest_bucket_out():
    score, _ = scores(col(20, 500), 20.0, (2,))
    assert score[1, 0] == 0.0


def test_the_recent_part_must_be_elevated():
    # A five-bucket window (recent part: two buckets) whose last two are ordinary.
    old = col(20, 35, 35, 35, 35, 35, 20, 20)
    score, _ = scores(old, 20.0, (5,))
    assert score[5, 0] > 3.0
    assert score[7, 0] == 0.0
    # The last two at 1.5 times but carrying less than an eighth of the window's excess.
    score, _ = scores(col(20, 90, 90, 90, 90, 30, 30), 20.0, (5,))
    assert score[6, 0] == 0.0
    # ... and carrying it.
    score, _ = scores(col(20, 90, 90, 90, 30, 55, 55), 20.0, (5,))
    np.testing.assert_allclose(score[6, 0], 41.7385, atol=1e-3)


def test_the_recent_part_must_be_unusual_on_its_own():
    # 2 x 30 recent at 20 expected: 1.5 times and enough share, but p = 2 % > 1 %.
    score, _ = scores(col(20, 50, 50, 50, 30, 30), 20.0, (5,))
    assert score[5, 0] == 0.0
    score, _ = scores(col(20, 50, 50, 50, 32, 32), 20.0, (5,))
    np.testing.assert_allclose(score[5, 0], 15.8678, atol=1e-3)


def test_a_lone_bucket_counts_only_above_its_record():
    counts = col(39, 39)  # under twice: no run
    record = col(np.nan, 1.76)
    score, _ = scores(counts, 20.0, (1,), record=record)
    # 44 / 25 = 1.76 is no record above 1.76; without a record (NaN) nothing counts.
    assert score[0, 0] == 0.0 and score[1, 0] == 0.0
    score, _ = scores(counts, 20.0, (1,), record=col(1.75, 1.75))
    np.testing.assert_allclose(score[1, 0], poisson_score(39, 20), rtol=1e-9)
    score, _ = scores(counts, 20.0, (1,))
    assert score[1, 0] == 0.0


def test_unknown_buckets_score_nan():
    counts = col(np.nan, 40, 40)
    score, strong = scores(counts, 20.0, (2,))
    assert np.isnan(score[0, 0]) and np.isnan(strong[0, 0])
    m = col(20, np.nan, 20)
    zero = np.zeros_like(m)
    score, _ = detection.window_score(col(40, 40, 40), m, zero, zero, (2,))
    assert np.isnan(score[1, 0])


# ----------------------------------------------------------------------------- runs


def test_a_two_bucket_run_is_scored_on_its_sum_at_its_own_level():
    # 60 + 60 at 20 each: the run's sum 120 against 40, less 3 (1e-8 against 1e-5).
    score, strong = scores(col(60, 60), 20.0, (2,))
    window = poisson_score(60, 20)
    run = poisson_score(120, 40) - 3.0
    assert run > window
    np.testing.assert_allclose(score[1, 0], run, rtol=1e-9)
    np.testing.assert_allclose(strong[1, 0], run, rtol=1e-9)


def test_a_three_bucket_run_at_its_level():
    counts = col(0, 0, 0)
    mu = np.full_like(counts, 4.0)
    zero = np.zeros_like(counts)
    score = np.zeros_like(counts)
    strong = np.zeros_like(counts)
    detection._add_runs(col(12, 12, 12), mu, zero, zero, score, strong)
    # Rows 1 (a run of two) and 2 (of three, the stronger here).
    np.testing.assert_allclose(score[1, 0], poisson_score(24, 8) - 3.0, rtol=1e-9)
    np.testing.assert_allclose(
        score[2, 0], max(poisson_score(36, 12) - 2.0, poisson_score(24, 8) - 3.0), rtol=1e-9
    )
    assert score[0, 0] == 0.0
    np.testing.assert_allclose(strong, score)


def test_a_run_needs_every_bucket_at_twice_and_a_rest_that_holds():
    score = np.zeros((2, 1))
    strong = np.zeros((2, 1))
    zero = np.zeros((2, 1))
    detection._add_runs(col(39, 200), col(20, 20), zero, zero, score, strong)
    assert score[1, 0] == 0.0  # 39 < 2 x 20
    detection._add_runs(col(6, 200), col(2, 2), zero, zero, score, strong)
    assert score[1, 0] == 0.0  # the rest, 6, is 4 above 2: less than five
    detection._add_runs(col(11, 30), col(5, 5), zero, zero, score, strong)
    assert score[1, 0] == 0.0  # the rest, 11 against 5: p = 1.4 % > 1 %
    detection._add_runs(col(12, 30), col(5, 5), zero, zero, score, strong)
    # 12 against 5: p = 0.55 % <= 1 %; the sum 42 against 10 is scored.
    np.testing.assert_allclose(score[1, 0], poisson_score(42, 10) - 3.0, rtol=1e-9)
    np.testing.assert_allclose(strong[1, 0], score[1, 0])


# ----------------------------------------------------------------------------- states


def test_possible_opens_at_exactly_three_and_outage_at_exactly_five():
    score = col(0, 2.999, 3.0, 0, 0, 0, 0)
    strong = col(0, 0, 0, 0, 0, 0, 0)
    assert detection.states(score, strong, 3)[:, 0].tolist() == [0, 0, 1, 1, 1, 0, 0]
    score = col(0, 4.999, 0, 5.0, 5.0, 0, 0, 0, 0)
    strong = col(0, 4.999, 0, 4.999, 5.0, 0, 0, 0, 0)
    assert detection.states(score, strong, 3)[:, 0].tolist() == [0, 1, 1, 1, 2, 2, 2, 0, 0]


def test_states_close_after_exactly_quiet_buckets():
    score = col(6, 0, 0, 0, 0)
    strong = col(6, 0, 0, 0, 0)
    assert detection.states(score, strong, 2)[:, 0].tolist() == [2, 2, 0, 0, 0]
    assert detection.states(score, strong, 4)[:, 0].tolist() == [2, 2, 2, 2, 0]


def test_states_nan_is_no_evidence():
    score = col(np.nan, 4, np.nan, np.nan)
    strong = col(np.nan, 0, np.nan, np.nan)
    assert detection.states(score, strong, 2)[:, 0].tolist() == [0, 1, 1, 0]


def test_stale_evidence_without_elevated_recent_buckets_neither_keeps_nor_reopens():
    score = col(6, 6, 6, 6, 6, 6)
    strong = col(6, 6, 6, 6, 6, 6)
    elevated = col(1, 1, 0, 0, 0, 1).astype(bool)
    # Open while elevated; two buckets without living evidence close it; the long windows'
    # steady score does not reopen it until the recent buckets are elevated again.
    assert detection.states(score, strong, 2, elevated)[:, 0].tolist() == [2, 2, 2, 0, 0, 2]
    # New evidence (above nothing a bucket before) opens even without elevated buckets.
    score = col(0, 6, 6, 0)
    strong = col(0, 6, 6, 0)
    none = np.zeros((4, 1), dtype=bool)
    assert detection.states(score, strong, 1, none)[:, 0].tolist() == [0, 2, 0, 0]


# ----------------------------------------------------------------------------- regression

AT = START + pd.Timedelta(weeks=2, days=2, hours=14)


def _fixed_series() -> dict[str, pd.Series]:
    busy, _ = series(rate=20, weeks=2.5, seed=31, shape=10)
    quiet, _ = series(rate=0.2, weeks=2.5, seed=32)
    return {
        "busy outage": add_outage(busy, AT, minutes=20, multiplier=4, seed=3),
        "busy small rise": add_outage(busy, AT, minutes=30, multiplier=1.6, seed=4),
        "busy doubling": add_outage(busy, AT, minutes=30, multiplier=2.2, seed=6),
        "quiet outage": add_outage(quiet, AT, minutes=30, multiplier=40, seed=5),
        "busy plain": busy,
    }


# Per series: buckets in each state, first and last bucket in outage (minutes after AT),
# the maximum score and the scores 2, 5 and 10 minutes after AT.
PINNED: dict[str, dict] = {
    "busy outage": {
        "ok": 25164,
        "possible": 0,
        "outage": 36,
        "outage_span": [1, 36],
        "max_score": 52.812,
        "scores": [9.882, 15.926, 31.549],
    },
    "busy small rise": {
        "ok": 25200,
        "possible": 0,
        "outage": 0,
        "outage_span": [],
        "max_score": 2.517,
        "scores": [0.0, 1.576, 0.0],
    },
    "busy doubling": {
        "ok": 25162,
        "possible": 1,
        "outage": 37,
        "outage_span": [8, 44],
        "max_score": 17.123,
        "scores": [1.805, 1.294, 8.33],
    },
    "quiet outage": {
        "ok": 25117,
        "possible": 15,
        "outage": 68,
        "outage_span": [1, 68],
        "max_score": 74.265,
        "scores": [17.696, 21.415, 45.075],
    },
    "busy plain": {
        "ok": 25200,
        "possible": 0,
        "outage": 0,
        "outage_span": [],
        "max_score": 2.517,
        "scores": [0.0, 0.0, 0.0],
    },
}


@pytest.fixture(scope="module")
def detected() -> dict[str, pd.DataFrame]:
    return {name: detect(s) for name, s in _fixed_series().items()}


def _digest(result: pd.DataFrame) -> dict:
    state = result["state"].astype(str)
    counts = state.value_counts()
    outage = result.index[state == "outage"]
    rel = [
        int((t - AT) / pd.Timedelta(minutes=1))
        for t in (outage[:1].tolist() + outage[-1:].tolist())
    ]
    at = [float(result["score"].loc[AT + pd.Timedelta(minutes=m)]) for m in (2, 5, 10)]
    return {
        "ok": int(counts.get("ok", 0)),
        "possible": int(counts.get("possible", 0)),
        "outage": int(counts.get("outage", 0)),
        "outage_span": rel,
        "max_score": round(float(result["score"].max()), 3),
        "scores": [round(s, 3) for s in at],
    }


@pytest.mark.parametrize("name", list(PINNED))
def test_detect_output_is_pinned(detected, name):
    got = _digest(detected[name])
    want = PINNED[name]
    assert {k: v for k, v in got.items() if k not in ("max_score", "scores")} == {
        k: v for k, v in want.items() if k not in ("max_score", "scores")
    }
    np.testing.assert_allclose(got["max_score"], want["max_score"], atol=2e-3)
    np.testing.assert_allclose(got["scores"], want["scores"], atol=2e-3)


def test_a_lone_bucket_above_its_record_still_needs_five_reports_more():
    # 24 against 20: a ratio of 29 / 25 beats a record of 1.0, but it is 4 reports above.
    score, _ = scores(col(24, 24), 20.0, (1,), record=col(1.0, 1.0))
    assert score[1, 0] == 0.0


def test_a_run_with_dispersion():
    score = np.zeros((2, 1))
    strong = np.zeros((2, 1))
    a_ind = np.full((2, 1), 0.05)
    a_cor = np.full((2, 1), 0.02)
    detection._add_runs(col(60, 60), col(20, 20), a_ind, a_cor, score, strong)
    # The sum 120 against 40 with variance 40 + 0.05 x 800 + 0.02 x 1600 = 112.
    size = 40.0**2 / (112.0 - 40.0)
    p = stats.nbinom.sf(119, size, size / (size + 40.0))
    np.testing.assert_allclose(score[1, 0], -np.log10(p) - 3.0, rtol=1e-6)
