"""The detection bench's realistic behaviours and how false alarms are put down to them."""

import numpy as np
import pytest

from bench import detect_quality as dq

WEEK = dq.MINUTES_PER_WEEK


@pytest.fixture(scope="module")
def small() -> tuple[dq.World, dq.Realistic, dict[str, np.ndarray]]:
    world = dq.simulate(np.random.default_rng(5), 40, 30, 2 * WEEK, WEEK)
    before = {"counts": world.counts.copy(), "rate": world.rate.copy(), "noise": world.noise.copy()}
    return world, dq.realistic(world, np.random.default_rng(6), WEEK), before


def test_realistic_series_leave_the_headline_world_unchanged(small) -> None:
    world, real, before = small
    for name, values in before.items():
        assert np.array_equal(getattr(world, name), values), name
    assert real.counts.shape == world.counts.shape
    assert [(o.series, o.start, o.duration) for o in real.outages] == [
        (o.series, o.start, o.duration) for o in world.outages
    ]
    kinds = {e.kind for e in real.events}
    assert kinds == {"burst", "level_shift", "holiday", "gap"}
    assert real.traits["heavy_tail_noise"].size and real.traits["quiet_nights"].size


def test_intake_gaps_hold_no_reports(small) -> None:
    _, real, _ = small
    gaps = [e for e in real.events if e.kind == "gap"]
    assert gaps
    for e in gaps:
        assert 30 <= e.size <= 90
        assert real.counts[e.start : e.start + int(e.size), e.series].sum() == 0


def test_a_burst_rises_sharply_to_its_peak_and_fades_to_a_twentieth() -> None:
    tau, rise, peak = 20.0, 3, 11.0
    duration = rise + int(np.ceil(tau * np.log(20)))
    prof = dq._burst_profile(duration, rise, peak, tau)
    assert prof[:rise].tolist() == pytest.approx([1 + 10 / 3, 1 + 20 / 3, 11.0])
    assert prof.argmax() == rise - 1 and (np.diff(prof[rise - 1 :]) < 0).all()
    assert 1 < prof[-1] <= 1 + 0.05 * (peak - 1)


def test_bursts_add_reports(small) -> None:
    world, real, _ = small
    bursts = [e for e in real.events if e.kind == "burst"]
    assert bursts and all(2 <= e.size <= dq.BURST_PEAK_MAX for e in bursts)
    spans = [(slice(e.start, e.end - dq.MATCH_AFTER), e.series) for e in bursts]
    assert sum(real.counts[t, s].sum() for t, s in spans) > 1.3 * sum(
        world.counts[t, s].sum() for t, s in spans
    )


def test_bursts_and_gaps_keep_four_hours_from_every_outage(small) -> None:
    _, real, _ = small
    for e in real.events:
        if e.kind not in ("burst", "gap"):
            continue
        last = e.end - dq.MATCH_AFTER
        for o in real.outages:
            if o.series == e.series:
                assert last + 240 < o.start or e.start > o.start + o.duration + 240


def test_false_alarms_are_put_down_to_every_behaviour_they_overlap() -> None:
    offset, minutes, series = 1000, 3000, 3
    outage = dq.Outage(series=0, start=1500, duration=60, excess=100.0, evaluated=True)
    events = [
        dq.Event("burst", 0, 2000, 2100, 8.0),
        dq.Event("burst", 1, 2500, 2600, 2.5),  # never alarmed
        dq.Event("gap", 1, 1200, 1300, 40),
        dq.Event("level_shift", 2, 900, 2900, 1.5),
        dq.Event("burst", 0, 100, 200, 30.0),  # before evaluation: not counted
    ]
    real = dq.Realistic(
        counts=np.zeros((minutes, series)),
        outages=[outage],
        events=events,
        traits={"heavy_tail_noise": np.array([2]), "quiet_nights": np.array([], dtype=np.int64)},
    )
    alarm = np.zeros((minutes - offset, series), dtype=bool)

    def on(s: int, first: int, last: int) -> None:
        alarm[first - offset : last - offset + 1, s] = True

    on(0, 1510, 1600)  # the outage: a true alarm
    on(0, 2050, 2060)  # the burst
    on(1, 1290, 1320)  # across the end of the gap's span
    on(1, 1800, 1810)  # nothing
    on(2, 1100, 1120)  # level shift and heavy-tailed noise both
    got = dq.attribute(alarm, offset, real)
    blamed = {k: v["false_alarms"] for k, v in got["false_alarms_by_behaviour"].items()}
    assert blamed == {
        "burst": 1,
        "level_shift": 1,
        "holiday": 0,
        "intake_gap": 1,
        "heavy_tail_noise": 1,
        "quiet_nights": 0,
        "unattributed": 1,
    }
    assert got["false_alarms_by_behaviour"]["burst"] == {
        "series": 2,
        "events": 2,
        "false_alarms": 1,
        "per_series_week": 0.5,
    }
    bursts = got["bursts_alarmed"]
    assert bursts["bursts"] == 2 and bursts["alarmed"] == 0.5
    assert bursts["by_peak"]["5-10x"] == {"n": 1, "alarmed": 1.0}
    assert bursts["by_peak"]["2-3x"] == {"n": 1, "alarmed": 0.0}
