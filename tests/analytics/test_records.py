"""Records: an outage must beat, at some window length, what the series did without one."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from analytics import detection
from analytics.detection import detect, detect_many
from analytics.models import SeriesPeak
from analytics.services import detection_run, records_forget, series_peaks_keep
from outages.models import Incident
from tests.analytics.synthetic import START, add_outage, series
from tests.analytics.test_detection import runs
from tests.analytics.test_detection_run import NOW, burst, run, steady_history

NAN = np.nan


def opened(counts: pd.Series) -> list[pd.Timestamp]:
    return [start for start, _ in runs(detect(counts)["state"] == "outage")]


def test_record_constants_are_pinned() -> None:
    assert detection.RECORD_DAYS == 49
    assert detection.LONE_RECORD_DAYS == 49
    assert detection.LONE_RECORD_MIN_DAYS == 3
    assert detection.RECORD_LEAD == pd.Timedelta(minutes=30)
    assert detection.RECORD_SPANS == (2, 5, 15, 45, 120)
    five = detection.grid_for(pd.Timedelta(minutes=5))
    assert detection.record_lengths(five) == (1, 1, 3, 9, 24)
    one = detection.grid_for(pd.Timedelta(minutes=1))
    assert detection.record_lengths(one) == (2, 5, 15, 45, 120)


def test_window_ratios_are_shrunk_sums() -> None:
    counts = np.array([[0.0], [5.0], [15.0], [NAN], [10.0]])
    mu = np.array([[5.0], [5.0], [5.0], [5.0], [5.0]])
    ratios = detection.window_ratios(counts, mu, (1, 2))
    # (count + 5) / (expected + 5), over one and over two buckets.
    assert ratios[0, :, 0].tolist()[:3] == [0.5, 1.0, 2.0]
    assert np.isnan(ratios[0, 3, 0])
    assert ratios[0, 4, 0] == 1.5
    assert np.isnan(ratios[1, 0, 0])  # reaches before row 0
    assert ratios[1, 1, 0] == 10 / 15
    assert ratios[1, 2, 0] == 25 / 15
    assert np.isnan(ratios[1, 3, 0]) and np.isnan(ratios[1, 4, 0])  # holds the unknown bucket


def test_record_bars_need_three_days_and_take_the_largest() -> None:
    two_days = np.array([[[4.0]], [[9.0]]])  # days x lengths x series
    assert np.isnan(detection.record_bars(two_days)).all()
    three = np.array([[[4.0]], [[9.0]], [[0.0]]])
    assert detection.record_bars(three).tolist() == [[9.0]]
    unseen = np.array([[[4.0]], [[NAN]], [[9.0]], [[0.0]]])  # a day not observed does not count
    assert detection.record_bars(unseen).tolist() == [[9.0]]
    assert np.isnan(detection.record_bars(unseen[[0, 1, 2]])).all()  # two days seen of three
    assert detection.record_bars(np.zeros((0, 1, 1))).shape == (1, 1)


def test_an_outage_must_beat_the_record_of_some_window_strictly() -> None:
    ratios = np.array([[[2.0, 5.0, 5.0, 1.0]], [[1.0, 1.0, 7.0, NAN]]])  # lengths x rows x series
    ratios = ratios.transpose(0, 2, 1)  # lengths x rows(4) x series(1)
    bars = np.array([[5.0], [6.0]])
    beaten = detection.beats_record(ratios, bars)[:, 0].tolist()
    # Row 1 equals the first record (not beaten), row 2 beats the second, row 3's unknown
    # ratio holds nothing back.
    assert beaten == [False, False, True, True]
    assert detection.beats_record(ratios, np.full((2, 1), NAN))[:, 0].all()


def test_outage_buckets_their_tail_and_their_lead_do_not_set_records() -> None:
    alarm = np.zeros((12, 1), dtype=bool)
    alarm[5:7] = True
    surprising = np.ones((12, 1), dtype=bool)
    surprising[11] = False
    counted = detection.record_counted(surprising, alarm, (1, 3), lead=2)
    # Length 1: the alarm and the two buckets before it are out; length 3 also the two after.
    assert counted[0, :, 0].tolist() == [1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0]
    assert counted[1, :, 0].tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0]


def test_day_peaks_zero_for_a_quiet_day_nan_for_an_unseen_one() -> None:
    ratios = np.array([[[3.0, NAN, 1.0], [8.0, NAN, 2.0], [4.0, NAN, 1.0]]])  # 1 x 3 x 3
    counted = np.array([[[True, True, False], [False, True, False], [True, True, False]]])
    peaks = detection.day_peaks(ratios, counted)
    assert peaks[0, 0] == 4.0  # the 8 was not counted
    assert np.isnan(peaks[0, 1])
    assert peaks[0, 2] == 0.0


def test_records_from_kept_rows() -> None:
    rows = pd.DataFrame(
        {
            "series_id": ["1", "1", "1", "2", "2"],
            "day": [1, 2, 3, 1, 2],
            **{f"peak_{s}": [1.0, 3.0, 2.0, 9.0, 9.0] for s in detection.RECORD_SPANS},
        }
    )
    rows.loc[1, "peak_120"] = 0.5
    records = detection.records_from_rows(rows)
    assert records.to_numpy()[0].tolist() == [3.0, 3.0, 3.0, 3.0, 2.0]
    assert list(records.index) == ["1", "2"]
    assert np.isnan(records.to_numpy()[1]).all()  # two days only
    assert list(records.columns) == [2, 5, 15, 45, 120]
    assert detection.records_from_rows(rows.iloc[:0]).empty


def _burst(counts: pd.Series, at: pd.Timestamp) -> pd.Series:
    out = counts.copy()
    out.loc[at : at + pd.Timedelta(minutes=10)] += 60  # three five-minute buckets
    return out


def test_a_burst_no_larger_than_an_earlier_routine_one_opens_nothing() -> None:
    counts, _ = series(rate=2, weeks=5, seed=31, freq="5min")
    at = START + pd.Timedelta(days=20, hours=11)
    plain = _burst(counts, at)
    assert opened(plain) == [at]
    # A far larger lone bucket on the first day: before any record, so it opened nothing and
    # was a routine burst. The later burst is smaller at every window length: routine too.
    routine = plain.copy()
    routine.loc[[START + pd.Timedelta(days=1, hours=11)]] += 300
    assert opened(routine) == []


def test_repeated_outages_each_open() -> None:
    counts, _ = series(rate=10, weeks=4, seed=32)
    first = START + pd.Timedelta(days=12, hours=14)
    again = START + pd.Timedelta(days=19, hours=14)
    twice = add_outage(add_outage(counts, first, 30, 4), again, 30, 4, seed=2)
    starts = opened(twice)
    assert len(starts) == 2
    assert first <= starts[0] <= first + pd.Timedelta(minutes=5)
    assert again <= starts[1] <= again + pd.Timedelta(minutes=5)


def _live_frame(seed: int) -> pd.DataFrame:
    index = pd.date_range("2026-01-02 00:00", periods=60 * 30, freq="1min", tz="UTC")
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.poisson(5, (len(index), 2)).astype(float), index=index)
    frame.columns = pd.Index(["7", "7:DE"])
    return frame


def test_the_live_pass_holds_an_outage_to_the_records_it_is_given() -> None:
    frame = _live_frame(seed=3)
    frame.iloc[-10:, 0] += 40  # the last ten minutes at about 9x
    free = detect_many(frame, bucket=pd.Timedelta(minutes=1))
    assert free.loc["7", "state"] == "outage"
    high = pd.DataFrame([[20.0] * 5, [20.0] * 5], index=["7", "7:DE"], columns=[2, 5, 15, 45, 120])
    held = detect_many(frame, bucket=pd.Timedelta(minutes=1), records=high)
    assert held.loc["7", "state"] != "outage"
    low = high.copy()
    low.loc["7", 5] = 3.0  # beaten at one window length is enough
    assert detect_many(frame, bucket=pd.Timedelta(minutes=1), records=low).loc["7", "state"] == (
        "outage"
    )


def test_the_live_pass_reports_the_day_peaks_of_settled_buckets() -> None:
    frame = _live_frame(seed=4)
    # An unusual rise (possible-level, under twice the expectation) two hours ago, and another
    # in the last half hour, which is not settled yet (it may be an outage's first minutes).
    frame.iloc[-120:-60, 1] += 4.0
    frame.iloc[-20:, 0] += 4.0
    result = detect_many(frame, bucket=pd.Timedelta(minutes=1))
    assert result["peaks_day"].iloc[0] == pd.Timestamp("2026-01-03", tz="UTC")
    peaks = result[["peak_2", "peak_120"]].to_numpy(dtype=float)  # rows "7", "7:DE"
    assert peaks[1, 1] > 1.4
    assert peaks[0, 1] == 0.0
    assert peaks[0, 0] < peaks[1, 0]


@pytest.mark.django_db
def test_the_pass_keeps_day_peaks_and_holds_a_routine_sized_burst(tiktok, gmail) -> None:
    steady_history(tiktok)
    steady_history(gmail, seed=2)
    burst(tiktok, minutes=12, per_minute=20, country="US")
    # Kept days say TikTok has made rises far larger than this without an outage.
    for back in (1, 2, 3):
        SeriesPeak.objects.create(
            service=tiktok,
            country="",
            day=NOW.date() - timedelta(days=back),
            peak_2=50.0,
            peak_5=50.0,
            peak_15=50.0,
            peak_45=50.0,
            peak_120=50.0,
        )
    run(NOW)
    assert not Incident.objects.filter(service=tiktok, country="").exists()
    kept = SeriesPeak.objects.get(service=gmail, country="", day=NOW.date())
    assert 0.0 <= kept.peak_2 < 50.0
    # The same burst on a service whose kept days are ordinary opens an incident.
    SeriesPeak.objects.filter(service=tiktok).update(
        peak_2=1.2, peak_5=1.2, peak_15=1.2, peak_45=1.2, peak_120=1.2
    )
    records_forget()
    detection_run(now=NOW)
    assert Incident.objects.filter(service=tiktok, country="", ended_at=None).exists()


@pytest.mark.django_db
def test_kept_peaks_only_grow_and_old_days_are_forgotten(tiktok) -> None:
    day = NOW.date()
    old = SeriesPeak.objects.create(
        service=tiktok,
        country="",
        day=day - timedelta(days=51),
        **dict.fromkeys([f"peak_{s}" for s in detection.RECORD_SPANS], 1.0),
    )
    columns = [f"peak_{s}" for s in detection.RECORD_SPANS]
    first = pd.DataFrame([[2.0, 2.0, 2.0, 2.0, 2.0]], index=[str(tiktok.id)], columns=columns)
    assert series_peaks_keep(day=day, peaks=first) == 1
    smaller = first.copy()
    smaller.iloc[0, 0] = 1.0
    smaller.iloc[0, 4] = 5.0
    records_forget()  # another process, which has not seen the first write
    assert series_peaks_keep(day=day, peaks=smaller) == 1
    kept = SeriesPeak.objects.get(service=tiktok, day=day)
    assert [getattr(kept, c) for c in columns] == [2.0, 2.0, 2.0, 2.0, 5.0]
    assert series_peaks_keep(day=day, peaks=smaller) == 0  # nothing larger: nothing written
    assert not SeriesPeak.objects.filter(pk=old.pk).exists()
    unseen = first.copy()
    unseen.iloc[0, 2] = NAN
    assert series_peaks_keep(day=day, peaks=unseen) == 0
