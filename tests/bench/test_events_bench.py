"""The events bench's simulation and scoring."""

import random

from bench import events as bench
from outages import grouping


def test_the_world_has_every_kind_of_failure_and_one_open_incident_per_scope():
    world = bench.simulate(random.Random(3))
    kinds = {f.kind for f in world.failures}
    assert kinds == {"provider", "access", "region"}
    assert any(i.failure is None for i in world.incidents)
    spans: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for i in world.incidents:
        assert i.start < i.seen < i.end
        spans.setdefault((i.service, i.country), []).append((i.seen, i.end))
    for intervals in spans.values():
        intervals.sort()
        assert all(a[1] < b[0] for a, b in zip(intervals, intervals[1:], strict=False))


def test_perfect_events_score_one_and_a_coincidence_lowers_precision():
    world = bench.World(
        deps=grouping.DependencyMap(),
        incidents=[
            bench.SimIncident(0, 1, "", 0, 2, 50, 0),
            bench.SimIncident(1, 2, "", 1, 3, 50, 0),
            bench.SimIncident(2, 3, "", 0, 2, 50, None),
            bench.SimIncident(3, 4, "", 0, 2, 50, None),
        ],
        failures=[bench.Failure(0, "region", "C1", None)],
    )
    right = bench.SimEvent(0, "C1", grouping.Cause("region"), grouping.Cause("region"), 0)
    right.members = {0, 1}
    right.cause_minutes[grouping.Cause("region")] = 10
    scored = bench.score(world, [right])
    assert scored["membership_precision"] == 1.0 and scored["membership_recall"] == 1.0
    assert scored["cause_right"] == 1.0
    wrong = bench.SimEvent(1, "", grouping.Cause("unknown"), grouping.Cause("unknown"), 0)
    wrong.members = {2, 3}
    wrong.cause_minutes[grouping.Cause("unknown")] = 5
    scored = bench.score(world, [right, wrong])
    assert scored["membership_precision"] == 0.5 and scored["events_of_coincidences"] == 1
    half = bench.SimEvent(0, "C1", grouping.Cause("unknown"), grouping.Cause("unknown"), 0)
    half.members = {0, 1}
    half.cause_minutes.update({grouping.Cause("unknown"): 3, grouping.Cause("region"): 1})
    assert bench.score(world, [half])["cause_right"] == 0.25
