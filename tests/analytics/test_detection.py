"""Detection: causal, quick on clear outages, quiet on noise, hysteresis, many series at once."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics import detection
from analytics.detection import detect, detect_frames, detect_many
from tests.analytics.synthetic import START, add_outage, series

OUTAGE_AT = START + pd.Timedelta(weeks=3, days=1, hours=13)


def runs(flags: pd.Series) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(first, last) timestamp of each run of True."""
    values = flags.to_numpy()
    edges = np.diff(np.concatenate([[0], values.astype(int), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    index = pd.DatetimeIndex(flags.index)
    return [(index[int(a)], index[int(b)]) for a, b in zip(starts, ends, strict=True)]


@pytest.fixture(scope="module")
def outage_run() -> pd.DataFrame:
    counts, _ = series(rate=20, weeks=3.5, seed=11, shape=10)
    return detect(add_outage(counts, OUTAGE_AT, minutes=30, multiplier=5))


def test_a_clear_outage_is_detected_within_a_few_buckets_and_closes(
    outage_run: pd.DataFrame,
) -> None:
    alarms = runs(outage_run["state"] == "outage")
    assert len(alarms) == 1
    opened, closed = alarms[0]
    assert OUTAGE_AT <= opened <= OUTAGE_AT + pd.Timedelta(minutes=3)
    end = OUTAGE_AT + pd.Timedelta(minutes=30)
    assert end <= closed <= end + pd.Timedelta(minutes=45)
    assert (outage_run.loc[closed + pd.Timedelta(minutes=1) :, "state"] == "ok").all()


def test_output_columns_and_published_threshold(outage_run: pd.DataFrame) -> None:
    assert list(outage_run.columns) == ["count", "expected", "threshold", "score", "state"]
    assert str(pd.DatetimeIndex(outage_run.index).tz) == "UTC"
    assert set(outage_run["state"].unique()) <= {"ok", "possible", "outage"}
    during = outage_run.loc[OUTAGE_AT : OUTAGE_AT + pd.Timedelta(minutes=29)]
    # Five times the usual reports clear the published threshold most minutes.
    assert (during["count"] >= during["threshold"]).mean() > 0.7
    quiet = outage_run.loc[: OUTAGE_AT - pd.Timedelta(hours=1)].dropna()
    assert (quiet["count"] >= quiet["threshold"]).mean() < 1e-3


def test_detection_is_causal_a_prefix_gives_identical_rows(outage_run: pd.DataFrame) -> None:
    counts, _ = series(rate=20, weeks=3.5, seed=11, shape=10)
    counts = add_outage(counts, OUTAGE_AT, minutes=30, multiplier=5)
    for cut in (OUTAGE_AT + pd.Timedelta(minutes=7), OUTAGE_AT - pd.Timedelta(minutes=1)):
        prefix = detect(counts.loc[:cut], bucket=pd.Timedelta(minutes=1))
        pd.testing.assert_frame_equal(prefix, outage_run.loc[:cut])


def test_zeros_and_ones_do_not_alarm_on_a_single_burst() -> None:
    counts, _ = series(rate=0.05, weeks=3, seed=12)
    spiked = counts.copy()
    for day, size in ((15, 3), (16, 10), (17, 2)):
        at = START + pd.Timedelta(days=day, hours=15)
        spiked.loc[[at]] += size  # one minute
    two = START + pd.Timedelta(days=18, hours=15) + pd.to_timedelta([0, 1], unit="min")
    spiked.loc[two] += 2
    result = detect(spiked)
    assert not (result["state"] == "outage").any()
    assert detect(counts)["state"].eq("ok").mean() > 0.999


def test_a_quiet_service_still_sees_a_real_outage() -> None:
    counts, _ = series(rate=0.05, weeks=3, seed=13)
    at = START + pd.Timedelta(weeks=2, days=3, hours=10)
    result = detect(add_outage(counts, at, minutes=40, multiplier=60))
    alarms = runs(result["state"] == "outage")
    assert len(alarms) == 1
    assert at <= alarms[0][0] <= at + pd.Timedelta(minutes=10)


def test_a_noisy_plateau_does_not_flap() -> None:
    counts, _ = series(rate=10, weeks=3, seed=14, shape=3)
    at = START + pd.Timedelta(weeks=2, days=2, hours=8)
    # Three hours hovering around the outage level, with heavy minute-to-minute noise.
    plateau = add_outage(counts, at, minutes=180, multiplier=2.6, seed=5)
    result = detect(plateau)
    window = result.loc[at - pd.Timedelta(hours=2) : at + pd.Timedelta(hours=5)]
    alarms = runs(window["state"] == "outage")
    assert len(alarms) == 1
    changes = (window["state"] != window["state"].shift()).sum() - 1
    assert changes <= 4  # ok -> possible -> outage -> ok, at most one extra step


def test_state_machine_hysteresis() -> None:
    quiet = 3
    score = np.array([0, 4, 0, 6, 3.5, 0, 3.2, 0, 0, 0, 0, 7, 0], dtype=float)[:, None]
    strong = np.where(score >= 6, score, 0.0)
    got = detection.states(score, strong, quiet)[:, 0].tolist()
    # possible opens at 4, outage at 6, stays through scattered evidence, closes after 3 quiet.
    assert got == [0, 1, 1, 2, 2, 2, 2, 2, 2, 0, 0, 2, 2]


def test_nb_tail_matches_scipy() -> None:
    x = np.array([1, 3, 10, 40, 120], dtype=float)
    mean = np.array([0.5, 2.0, 4.0, 20.0, 60.0])
    var = np.array([0.5, 3.0, 4.0, 60.0, 420.0])
    got = detection.nb_tail(x, mean, var)
    size = mean**2 / np.where(var > mean, var - mean, 1.0)
    want = np.where(
        var > mean,
        stats.nbinom.sf(x - 1, size, size / (size + mean)),
        stats.poisson.sf(x - 1, mean),
    )
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_threshold_is_the_smallest_outage_level_count() -> None:
    mu = np.array([[0.05], [1.0], [20.0], [300.0]])
    a_ind = np.full_like(mu, 0.1)
    a_cor = np.full_like(mu, 0.02)
    thr = detection.threshold(mu, a_ind, a_cor)[:, 0]
    m = mu[:, 0]
    var = m + 0.12 * m**2
    limit = 10.0**-detection.SCORE_OUTAGE
    assert (detection.nb_tail(thr, m, var) <= limit).all()
    assert (thr >= m + detection.MIN_EXCESS).all()
    assert (thr >= detection.OUTAGE_RATIO * m).all()
    below = thr - 1
    too_low = (detection.nb_tail(below, m, var) > limit) | (below < m + detection.MIN_EXCESS)
    assert too_low.all()


def test_detect_frames_handles_many_series_like_one() -> None:
    a, _ = series(rate=3, weeks=2.5, seed=15)
    b, _ = series(rate=0.3, weeks=2.5, seed=16)
    b = add_outage(b, START + pd.Timedelta(weeks=2, days=1), minutes=60, multiplier=30)
    frames = detect_frames(pd.DataFrame({"a": a, "b": b}))
    single = detect(b)
    np.testing.assert_array_equal(frames.state["b"].to_numpy(), single["state"].cat.codes)
    np.testing.assert_allclose(frames.score["b"].to_numpy(), single["score"].to_numpy())
    assert (frames.state["b"] == detection.OUTAGE).any()
    assert not (frames.state["a"] == detection.OUTAGE).any()


def test_detect_many_gives_the_latest_state_from_long_rows() -> None:
    ids = ["quiet", "busy", "broken"]
    parts = {}
    for i, name in enumerate(ids):
        counts, _ = series(rate=[0.2, 30, 5][i], weeks=2.2, seed=20 + i)
        parts[name] = counts
    end = parts["broken"].index[-1]
    parts["broken"] = add_outage(parts["broken"], end - pd.Timedelta(minutes=20), 21, 8)
    wide = pd.DataFrame(parts)
    full = detect_frames(wide)
    latest = detect_many(wide)
    assert latest.loc["broken", "state"] == "outage"
    assert latest.loc["quiet", "state"] == "ok"
    assert latest.loc["busy", "state"] == "ok"
    np.testing.assert_allclose(latest["expected"], full.expected.iloc[-1].to_numpy())
    np.testing.assert_allclose(latest["score"], full.score.iloc[-1].to_numpy())
    first_outage = int(np.argmax(full.state["broken"].to_numpy() == detection.OUTAGE))
    opened = pd.DatetimeIndex(full.state.index)[first_outage]
    assert latest.loc["broken", "since"] == opened

    # The same data as long rows (zeros left out, as a database would) and hourly history.
    recent = wide.loc[end - pd.Timedelta(hours=30) :]
    long = recent.reset_index(names="bucket").melt(
        id_vars="bucket", var_name="series_id", value_name="count"
    )
    long = long[long["count"] > 0]
    # Hourly totals as the rollup keeps them: whole hours, up to the one the window starts in.
    hourly = wide.resample("1h").sum().loc[: recent.index[0].floor("1h")]
    history = hourly.reset_index(names="bucket").melt(
        id_vars="bucket", var_name="series_id", value_name="count"
    )
    from_long = detect_many(long, history=history, end=end, bucket=pd.Timedelta(minutes=1))
    pd.testing.assert_frame_equal(from_long.loc[ids], latest.loc[ids], check_names=False)


def test_bad_input_is_refused() -> None:
    index = pd.date_range(START, periods=5, freq="1min")
    with pytest.raises(ValueError, match="increasing"):
        detect(pd.Series([1.0, 2, 3, 4, 5], index=index[[0, 2, 1, 3, 4]]))
    with pytest.raises(ValueError, match="bucket size"):
        detect(pd.Series([1.0], index=index[:1]))


def test_windows_are_time_spans_one_bucket_where_it_spans_two_minutes() -> None:
    one_minute = detection.grid_for(pd.Timedelta(minutes=1))
    assert detection.window_lengths(one_minute) == (2, 5, 15, 45, 120)
    two_minutes = detection.grid_for(pd.Timedelta(minutes=2))
    assert detection.window_lengths(two_minutes)[0] == 1
    five = detection.grid_for(pd.Timedelta(minutes=5))
    assert detection.window_lengths(five) == (1, 3, 9, 24)


def _five_minute_series(seed: int) -> pd.Series:
    counts, _ = series(rate=2, weeks=3, seed=seed, freq="5min")
    return counts


def test_a_lone_five_minute_bucket_opens_when_it_is_a_seven_week_record() -> None:
    counts = _five_minute_series(seed=21)
    at = START + pd.Timedelta(days=17, hours=11)
    spiked = counts.copy()
    spiked.loc[[at]] += 150  # one bucket, far beyond anything before
    result = detect(spiked)
    alarms = runs(result["state"] == "outage")
    assert [start for start, _ in alarms] == [at]  # in that very bucket, not one later


def test_a_lone_bucket_below_an_earlier_burst_is_routine() -> None:
    counts = _five_minute_series(seed=22)
    earlier = START + pd.Timedelta(days=10, hours=11)
    at = START + pd.Timedelta(days=17, hours=11)
    spiked = counts.copy()
    spiked.loc[[earlier]] += 200
    spiked.loc[[at]] += 150
    result = detect(spiked)
    opened = [start for start, _ in runs(result["state"] == "outage")]
    assert earlier in opened  # the first burst was a record then
    assert at not in opened  # a smaller one within seven weeks is not news
    # The same second burst with the first one more than seven weeks before it is news again.
    late = START + pd.Timedelta(days=10 + 50, hours=11)
    longer, _ = series(rate=2, weeks=9, seed=22, freq="5min")
    longer.loc[[earlier]] += 200
    longer.loc[[late]] += 150
    opened = [start for start, _ in runs(detect(longer)["state"] == "outage")]
    assert late in opened


def test_a_lone_bucket_needs_three_days_of_history_for_its_record() -> None:
    counts = _five_minute_series(seed=23)
    spiked = counts.copy()
    early = START + pd.Timedelta(days=2, hours=11)
    spiked.loc[[early]] += 150
    result = detect(spiked)
    assert (result.loc[early:early, "state"] != "outage").all()


def test_a_lone_bucket_record_compares_shrunk_ratios() -> None:
    ratio = detection.bucket_ratio(
        np.array([[0.0], [5.0], [np.nan]]), np.array([[0.0], [5.0], [1.0]])
    )
    assert ratio[:2, 0].tolist() == [1.0, 1.0]
    assert np.isnan(ratio[2, 0])
    grid = detection.grid_for(pd.Timedelta(hours=1))  # one bucket a block: easy to count
    values = np.arange(1.0, 24 * 55 + 1)[:, None]
    record = detection.lone_record(values, grid, 0)
    assert np.isnan(record[24 * 3 - 1, 0])  # 71 blocks seen: under three days
    assert record[24 * 3, 0] == 24 * 3  # from three days on: the largest before
    assert record[24 * 51, 0] == 24 * 51  # the largest of the 49 days before (1,176 blocks)
    falling = values[::-1].copy()
    record = detection.lone_record(falling, grid, 0)
    assert record[24 * 50, 0] == falling[24 * 50 - 24 * 49, 0]  # the oldest of the span counts
    assert record[24 * 50, 0] != falling[24 * 50 - 24 * 49 - 1, 0]  # one older does not


def _alarm_runs(
    result: pd.DataFrame, since: pd.Timestamp, hours: int = 4
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    return runs(
        result.loc[since - pd.Timedelta(hours=1) : since + pd.Timedelta(hours=hours), "state"]
        == "outage"
    )


@pytest.mark.parametrize(("rate", "multiplier"), [(10, 8), (50, 3), (1, 10)])
def test_an_incident_closes_fifteen_to_twenty_minutes_after_the_reports_calm_down(
    rate: float, multiplier: float
) -> None:
    counts, _ = series(rate=rate, weeks=3, seed=5)
    at = START + pd.Timedelta(weeks=2, days=2, hours=10)
    result = detect(add_outage(counts, at, minutes=40, multiplier=multiplier))
    calm = at + pd.Timedelta(minutes=40)
    alarms = _alarm_runs(result, at)
    assert len(alarms) == 1  # opens once, closes once
    opened, last_outage_bucket = alarms[0]
    assert at <= opened <= at + pd.Timedelta(minutes=2)
    closed = last_outage_bucket + pd.Timedelta(minutes=1)
    # Fifteen quiet minutes, counted once the last five minutes are back to normal.
    assert calm + pd.Timedelta(minutes=15) <= closed <= calm + pd.Timedelta(minutes=20)


def test_silence_after_an_outage_is_not_the_outage_going_on() -> None:
    counts, _ = series(rate=10, weeks=3, seed=6)
    at = START + pd.Timedelta(weeks=2, days=2, hours=10)
    spiked = add_outage(counts, at, minutes=40, multiplier=8)
    calm = at + pd.Timedelta(minutes=40)
    spiked.loc[calm : calm + pd.Timedelta(minutes=29)] = 0.0
    result = detect(spiked)
    alarms = _alarm_runs(result, at)
    assert len(alarms) == 1
    assert alarms[0][1] < calm + pd.Timedelta(minutes=20)
    # The two-hour window still holds the outage: the score stays high, the state does not.
    later = result.index.get_loc(calm + pd.Timedelta(minutes=20))
    assert result["score"].iloc[later] >= detection.SCORE_OUTAGE
    assert result["state"].iloc[later] == "ok"


def test_a_quiet_service_is_judged_by_its_long_windows_until_they_tell() -> None:
    counts, _ = series(rate=0.2, weeks=3, seed=5)
    at = START + pd.Timedelta(weeks=2, days=2, hours=10)
    result = detect(add_outage(counts, at, minutes=40, multiplier=30))
    alarms = _alarm_runs(result, at)
    assert len(alarms) == 1  # five minutes expecting one report say nothing: no early close
    assert alarms[0][1] >= at + pd.Timedelta(minutes=40)


def test_one_burst_that_fades_opens_one_incident_and_possible_does_not_flap() -> None:
    counts, _ = series(rate=10, weeks=3, seed=7, shape=4)
    at = START + pd.Timedelta(weeks=2, days=3, hours=14)
    burst = counts.copy()
    # Up within five minutes to 12x, then fading over an hour and a half.
    for minute in range(95):
        level = 12 * min(1.0, (minute + 1) / 5) * np.exp(-minute / 30)
        burst.loc[[at + pd.Timedelta(minutes=minute)]] += np.round(10 * level)
    result = detect(burst)
    window = result.loc[at - pd.Timedelta(hours=1) : at + pd.Timedelta(hours=4), "state"]
    assert len(runs(window == "outage")) == 1
    assert len(runs(window != "ok")) == 1  # no possible -> ok -> possible afterwards
    changes = int((window != window.shift()).sum()) - 1
    assert changes <= 3  # ok -> possible -> outage -> ok at most


def test_stale_evidence_does_not_reopen_but_new_evidence_does() -> None:
    quiet = 3
    score = np.array([0, 6, 6, 6, 6, 6, 6, 6, 6, 6], dtype=float)[:, None]
    strong = score.copy()
    elevated = np.array([0, 1, 1, 0, 0, 0, 0, 0, 1, 1], dtype=bool)[:, None]
    got = detection.states(score, strong, quiet, elevated)[:, 0].tolist()
    # Closes after three buckets without current evidence, stays closed while the evidence is
    # only the long windows' memory, and opens again when the recent buckets rise.
    assert got == [0, 2, 2, 2, 2, 0, 0, 0, 2, 2]
    assert detection.states(score, strong, quiet)[:, 0].tolist() == [0] + [2] * 9


def test_detect_many_says_when_the_rise_began() -> None:
    counts, _ = series(rate=10, weeks=2.2, seed=5)
    end = counts.index[-1]
    rise = end - pd.Timedelta(minutes=25)
    ramped = counts.copy()
    for minute in range(26):  # up over eight minutes, then 9x
        ramped.loc[[rise + pd.Timedelta(minutes=minute)]] += np.round(
            80 * min(1.0, (minute + 1) / 8)
        )
    latest = detect_many(pd.DataFrame({"ramped": ramped, "calm": counts}))
    assert latest.loc["ramped", "state"] == "outage"
    assert latest.loc["ramped", "since"] > rise + pd.Timedelta(minutes=1)  # when the test fired
    assert (
        rise - pd.Timedelta(minutes=1)
        <= latest.loc["ramped", "began"]
        <= rise + pd.Timedelta(minutes=1)
    )
    assert latest["began"].isna().tolist() == [False, True]


def test_rise_start_walks_back_over_elevated_buckets_with_one_gap_at_most() -> None:
    mu = np.ones((12, 1))
    counts = np.array([1, 3, 1, 1, 3, 1, 3, 3, 3, 3, 3, 3], dtype=float)[:, None]
    opened = np.array([9], dtype=np.intp)
    # 6..9 elevated, 5 ordinary, 4 elevated, 3 and 2 ordinary: the walk stops after two.
    assert detection.rise_start(counts, mu, opened, 12).tolist() == [4]
    assert detection.rise_start(counts, mu, opened, 4).tolist() == [6]  # no further than a window
    flat = np.ones((12, 1))
    assert detection.rise_start(flat, mu, opened, 12).tolist() == [9]
