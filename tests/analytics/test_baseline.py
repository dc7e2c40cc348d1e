"""Baseline: robust to past outages, follows growth, cold start, missing buckets, causal."""

import numpy as np
import pandas as pd
import pytest

from analytics import baseline
from tests.analytics.synthetic import START, add_outage, series


def test_a_past_outage_does_not_inflate_the_expectation() -> None:
    clean, _ = series(rate=5, weeks=6, seed=1)
    # A 20x outage for two hours, exactly one week before the hour we look at.
    when = START + pd.Timedelta(weeks=4, days=1, hours=14)
    dirty = add_outage(clean, when, minutes=120, multiplier=20)
    look = slice(when + pd.Timedelta(weeks=1), when + pd.Timedelta(weeks=1, minutes=119))
    with_outage = baseline.expected(dirty).loc[look, "expected"].mean()
    without = baseline.expected(clean).loc[look, "expected"].mean()
    assert with_outage == pytest.approx(without, rel=0.05)


def test_growth_is_followed_by_the_level_ratio() -> None:
    counts, true = series(rate=10, weeks=6, seed=2, growth_per_week=0.15)
    result = baseline.expected(counts)
    last_day = slice(len(counts) - 1440, len(counts))
    ratio = result["expected"].to_numpy()[last_day].sum() / true[last_day].sum()
    # The weekly median alone lags about three weeks of 15 % growth (-34 %).
    assert ratio == pytest.approx(1.0, abs=0.08)
    assert (result["tier"].iloc[last_day] == "weekly").all()


def test_expected_follows_the_daily_rhythm() -> None:
    counts, true = series(rate=20, weeks=5, seed=3)
    result = baseline.expected(counts)["expected"].to_numpy()
    last_week = slice(len(counts) - 7 * 1440, len(counts))
    relative = result[last_week] / true[last_week]
    assert np.median(np.abs(relative - 1)) < 0.05


@pytest.mark.parametrize(
    ("hours", "tier"),
    [(2, "none"), (10, "recent"), (4 * 24, "daily"), (22 * 24, "weekly")],
)
def test_tiers_by_history_length(hours: int, tier: str) -> None:
    counts, _ = series(rate=3, weeks=hours / (7 * 24), seed=4)
    last = baseline.expected(counts).iloc[-1]
    assert last["tier"] == tier


def test_cold_start_uses_the_recent_level() -> None:
    counts, _ = series(rate=6, weeks=12 / (7 * 24), seed=5)
    counts = add_outage(counts, START + pd.Timedelta(hours=4), minutes=120, multiplier=10)
    result = baseline.expected(counts)
    assert result["expected"].iloc[: 3 * 60].isna().all()  # learning
    hourly = counts.iloc[: 11 * 60].to_numpy().reshape(11, 60).sum(axis=1)
    # 75th percentile of the complete hours so far: the two outage hours stay out of it.
    assert result["expected"].iloc[-1] == pytest.approx(np.quantile(hourly, 0.75) / 60)
    assert result["expected"].iloc[-1] < np.sort(hourly)[-2] / 60 / 2


def test_missing_buckets_are_zero_reports() -> None:
    index = pd.date_range(START, periods=10, freq="1min")
    sparse = pd.Series([3.0, 1.0, 2.0], index=index[[0, 4, 9]])
    filled = baseline.regular(sparse, pd.Timedelta(minutes=1))
    assert filled.tolist() == [3, 0, 0, 0, 1, 0, 0, 0, 0, 2]
    with pytest.raises(ValueError, match="grid"):
        shifted = index[[0, 4, 9]] + pd.to_timedelta([0, 30, 0], unit="s")
        baseline.regular(sparse.set_axis(shifted), pd.Timedelta(minutes=1))


def test_expected_is_causal() -> None:
    counts, _ = series(rate=2, weeks=3.5, seed=6)
    full = baseline.expected(counts)
    cut = len(counts) - 1000 + 17  # mid-hour
    prefix = baseline.expected(counts.iloc[:cut])
    pd.testing.assert_frame_equal(prefix, full.iloc[:cut])


def test_over_dispersion_is_estimated() -> None:
    poisson, _ = series(rate=40, weeks=2, seed=7)
    bursty, _ = series(rate=40, weeks=2, seed=7, shape=4)  # alpha = 0.25
    a_poisson = baseline.expected(poisson)["alpha_ind"].iloc[-1]
    a_bursty = baseline.expected(bursty)["alpha_ind"].iloc[-1]
    assert a_poisson < 0.03
    assert a_bursty == pytest.approx(0.25, abs=0.07)


def test_wide_frames_and_unobserved_columns() -> None:
    a, _ = series(rate=4, weeks=2, seed=8)
    b, _ = series(rate=1, weeks=2, seed=9)
    wide = pd.DataFrame({"a": a, "b": b})
    wide.loc[wide.index < START + pd.Timedelta(days=10), "b"] = np.nan  # b is younger
    result = baseline.expected(wide)
    single = baseline.expected(a)["expected"]
    np.testing.assert_allclose(result["a"].to_numpy(), single.to_numpy())
    assert result["b"].iloc[: 10 * 1440 + 60].isna().all()
    assert result["b"].iloc[-1] > 0
