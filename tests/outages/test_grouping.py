"""The pure grouping of open incidents into events and their likely cause."""

from datetime import UTC, datetime, timedelta

from outages.grouping import (
    JOIN_WINDOW,
    RELATED_JOIN_WINDOW,
    DependencyMap,
    OpenEvent,
    OpenIncident,
    group_incidents,
    likely_cause,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLOUDFLARE, AWS, VODAFONE = 100, 101, 102
# services 1-9 run on Cloudflare, 11-19 on AWS, 21-40 on nothing we know
DEPS = DependencyMap(
    providers={
        **{s: frozenset({CLOUDFLARE}) for s in range(1, 10)},
        **{s: frozenset({AWS}) for s in range(11, 20)},
    },
    access={"ES": frozenset({VODAFONE})},
)


def inc(id, service, minutes=0, country="DE", event=None):
    return OpenIncident(id, service, country, T0 + timedelta(minutes=minutes), event)


def test_a_provider_with_problems_and_its_customers_are_one_event():
    incidents = [inc(1, CLOUDFLARE), inc(2, 1, 2), inc(3, 2, 3), inc(4, 3, 9), inc(5, 21, 4)]
    (group,) = group_incidents(incidents, [], DEPS)
    assert group.members == (1, 2, 3, 4)
    assert (group.cause.kind, group.cause.service_id, group.cause.has_problems) == (
        "provider",
        CLOUDFLARE,
        True,
    )
    assert group.event_id is None and group.country == "DE"


def test_two_unrelated_incidents_are_a_coincidence_not_an_event():
    assert group_incidents([inc(1, 21), inc(2, 22, 1)], [], DEPS) == []


def test_a_provider_and_one_customer_are_an_event():
    (group,) = group_incidents([inc(1, 1), inc(2, AWS, 1), inc(3, 11, 2)], [], DEPS)
    assert group.members == (2, 3)
    assert group.cause.service_id == AWS


def test_a_provider_shared_by_most_members_is_named_without_problems_of_its_own():
    incidents = [inc(1, 1), inc(2, 2, 1), inc(3, 3, 2), inc(4, 21, 3)]
    (group,) = group_incidents(incidents, [], DEPS)
    assert group.members == (1, 2, 3)
    assert (group.cause.kind, group.cause.service_id, group.cause.has_problems) == (
        "provider",
        CLOUDFLARE,
        False,
    )


def test_two_customers_of_a_provider_without_problems_are_a_coincidence():
    assert group_incidents([inc(1, 1), inc(2, 2, 1)], [], DEPS) == []


def test_many_unrelated_services_in_a_country_are_its_network_or_power():
    incidents = [inc(i, 20 + i, i, country="ES") for i in range(1, 5)]
    (group,) = group_incidents(incidents, [], DEPS)
    assert group.cause.kind == "region" and group.country == "ES"
    # Worldwide, the same four are of unknown cause; three are a coincidence anywhere.
    worldwide = [inc(i, 20 + i, i, country="") for i in range(1, 5)]
    (world,) = group_incidents(worldwide, [], DEPS)
    assert world.cause.kind == "unknown"
    assert group_incidents(incidents[:3], [], DEPS) == []
    assert group_incidents(worldwide[:3], [], DEPS) == []


def test_an_access_network_with_problems_is_the_cause_in_its_country():
    incidents = [inc(1, VODAFONE, 0, "ES"), inc(2, 21, 1, "ES"), inc(3, 22, 2, "ES")]
    (group,) = group_incidents(incidents, [], DEPS)
    assert (group.cause.kind, group.cause.service_id) == ("access", VODAFONE)


def test_starts_further_apart_than_the_window_are_not_grouped():
    far = JOIN_WINDOW + timedelta(minutes=1)
    incidents = [inc(1, 21), inc(2, 22, 1), inc(3, 23, far.total_seconds() / 60)]
    assert group_incidents(incidents, [], DEPS) == []


def test_regions_are_grouped_apart():
    incidents = [inc(1, CLOUDFLARE, 0, "DE"), inc(2, 1, 1, "FR")]
    assert group_incidents(incidents, [], DEPS) == []


def test_an_open_event_grows_with_customers_of_its_cause_for_half_an_hour():
    event = OpenEvent(7, "DE", "provider", CLOUDFLARE, T0)
    members = [inc(1, CLOUDFLARE, 0, event=7), inc(2, 1, 1, event=7)]
    limit = RELATED_JOIN_WINDOW.total_seconds() / 60
    (group,) = group_incidents([*members, inc(3, 4, limit), inc(4, 21, 3)], [event], DEPS)
    assert group.event_id == 7 and group.members == (1, 2, 3)
    (group,) = group_incidents([*members, inc(3, 4, limit + 1)], [event], DEPS)
    assert group.members == (1, 2)


def test_an_open_event_of_unknown_cause_takes_incidents_within_the_window_only():
    event = OpenEvent(7, "", "unknown", None, T0 + timedelta(minutes=1))
    members = [inc(i, 20 + i, i, "", event=7) for i in range(1, 5)]
    late = inc(9, 30, 1 + 11, "")
    soon = inc(8, 29, 1 + 10, "")
    (group,) = group_incidents([*members, late], [event], DEPS)
    assert group.members == (1, 2, 3, 4)
    (group,) = group_incidents([*members, soon], [event], DEPS)
    assert group.members == (1, 2, 3, 4, 8)


def test_an_event_ends_with_fewer_than_two_open_members():
    event = OpenEvent(7, "DE", "provider", CLOUDFLARE, T0)
    assert group_incidents([inc(1, 1, event=7)], [event], DEPS) == []


def test_the_cause_is_named_again_when_the_provider_joins():
    members = [inc(1, 1, 0), inc(2, 2, 1), inc(3, 21, 2)]
    assert likely_cause(members, country="DE", deps=DEPS, troubled=set()).kind == "unknown"
    cause = likely_cause(
        [*members, inc(4, CLOUDFLARE, 5)], country="DE", deps=DEPS, troubled={CLOUDFLARE}
    )
    assert (cause.kind, cause.service_id, cause.has_problems) == ("provider", CLOUDFLARE, True)


def test_a_worldwide_provider_incident_explains_a_country_cluster():
    incidents = [inc(1, CLOUDFLARE, 0, ""), inc(2, 1, 1), inc(3, 2, 2)]
    (group,) = group_incidents(incidents, [], DEPS)
    assert group.country == "DE" and group.members == (2, 3)
    assert group.cause.service_id == CLOUDFLARE and group.cause.has_problems


def test_a_provider_event_keeps_its_cause_once_the_provider_recovers():
    event = OpenEvent(7, "DE", "provider", CLOUDFLARE, T0)
    incidents = [inc(2, 1, 1, event=7), inc(3, 2, 2, event=7)]
    (group,) = group_incidents(incidents, [event], DEPS)
    assert (group.cause.kind, group.cause.service_id, group.cause.has_problems) == (
        "provider",
        CLOUDFLARE,
        False,
    )
    # An unrelated member that joined in the meantime: the name no longer holds.
    (group,) = group_incidents([*incidents, inc(4, 21, 3, event=7)], [event], DEPS)
    assert group.cause.kind == "unknown"


def test_a_region_event_keeps_its_cause_as_it_shrinks():
    event = OpenEvent(7, "ES", "region", None, T0)
    (group,) = group_incidents([inc(1, 21, 0, "ES", 7), inc(2, 22, 1, "ES", 7)], [event], DEPS)
    assert group.cause.kind == "region"
    # New direct evidence renames it: the access network's own incident.
    members = [inc(1, 21, 0, "ES", 7), inc(2, 22, 1, "ES", 7), inc(3, VODAFONE, 2, "ES")]
    (group,) = group_incidents(members, [event], DEPS)
    assert (group.cause.kind, group.cause.service_id) == ("access", VODAFONE)
