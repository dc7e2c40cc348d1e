"""Grouping at its edges: exactly half the members on a provider, a tie between two providers,
a provider with problems against a bigger one without. Ids and counts written out."""

from datetime import UTC, datetime, timedelta

from outages.grouping import Cause, DependencyMap, OpenIncident, group_incidents, likely_cause

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
P1, P2 = 100, 101
# 1 runs on both providers, 2-4 on P2, 5-8 on P1; 20 and up on nothing we know
DEPS = DependencyMap(
    providers={
        1: frozenset({P1, P2}),
        **{s: frozenset({P2}) for s in (2, 3, 4)},
        **{s: frozenset({P1}) for s in (5, 6, 7, 8)},
    }
)


def inc(id, service, minutes=0, country="DE"):
    return OpenIncident(id, service, country, T0 + timedelta(minutes=minutes))


def test_a_provider_with_problems_covering_exactly_half_is_the_cause():
    # P1 and its customer 5 are 2 of 4 services: half is enough for a provider in trouble.
    members = [inc(1, P1), inc(2, 5, 1), inc(3, 20, 2), inc(4, 21, 3)]
    cause = likely_cause(members, country="DE", deps=DEPS, troubled={P1})
    assert cause == Cause("provider", P1, True)
    # One more unrelated member and it is less than half: four in a country, a region's.
    cause = likely_cause([*members, inc(5, 22, 4)], country="DE", deps=DEPS, troubled={P1})
    assert cause == Cause("region", None, False)


def test_a_provider_with_problems_beats_a_bigger_one_without():
    # P2 covers three (1, 2, 3) and has no problems; P1 covers two (itself and 1) and has.
    members = [inc(1, P1), inc(2, 1, 1), inc(3, 2, 2), inc(4, 3, 3)]
    cause = likely_cause(members, country="DE", deps=DEPS, troubled={P1})
    assert cause == Cause("provider", P1, True)
    # Without P1's own trouble, P2's three customers of four make it the likely cause.
    cause = likely_cause(members, country="DE", deps=DEPS, troubled=set())
    assert cause == Cause("provider", P2, False)


def test_two_providers_with_problems_covering_as_many_the_lower_id_takes_the_shared_customer():
    # 1 runs on both: P1 (100) and P2 (101) each cover two. The lower id forms the event; P2 is
    # left alone, and one incident is no event.
    (group,) = group_incidents([inc(1, P2), inc(2, P1, 1), inc(3, 1, 2)], [], DEPS)
    assert group.members == (2, 3)
    assert group.cause == Cause("provider", P1, True)


def test_customers_of_a_provider_without_problems_that_are_only_half_are_no_provider_event():
    # Three customers of P1 among six: not most of them, so one region event of all six.
    incidents = [inc(k, s, k) for k, s in enumerate([5, 6, 7, 20, 21, 22], start=1)]
    (group,) = group_incidents(incidents, [], DEPS)
    assert group.members == (1, 2, 3, 4, 5, 6)
    assert group.cause == Cause("region", None, False)
    # Four of seven are most of them: P1's event, and the three others are a coincidence.
    incidents = [inc(k, s, k) for k, s in enumerate([5, 6, 7, 8, 20, 21, 22], start=1)]
    (group,) = group_incidents(incidents, [], DEPS)
    assert group.members == (1, 2, 3, 4)
    assert group.cause == Cause("provider", P1, False)
