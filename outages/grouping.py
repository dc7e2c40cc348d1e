"""Which open incidents are one wider problem, and its likely cause (pure Python: the detection
pass's incident step calls it through outages.services.events_apply, the bench directly).

The model. When a provider fails (a cloud, a CDN, a DNS or sign-in service) or a country's
network or power does, several services' incidents open within minutes of each other in the
same region: a country, or worldwide. Incidents are grouped per region, never across regions
(detection's series are a service worldwide or in one country, so a country's problem shows as
country incidents and a global one as worldwide incidents).

- A new incident joins an open event of its region when it is related to the event's cause
  (the service runs on the named provider, or is it) and starts within RELATED_JOIN_WINDOW of
  the event: a provider's failure reaches its customers one after another. An event without a
  provider as cause takes any incident that starts within JOIN_WINDOW of the event's start.
- The incidents left over are clustered by start: each cluster spans at most JOIN_WINDOW from
  its first start. Detection dates an incident from where the reports began to rise, which
  differs by a few minutes between a busy service and a quiet one with the same cause.
- Within a cluster, providers are taken greedily, most members first: a provider that has
  problems itself (an open incident in the region or worldwide) with at least one customer
  among the members forms an event of itself and those customers; a provider without
  problems of its own needs PROVIDER_SHARED customers that are most of the cluster. The
  rest: an access network of the country with problems of its own and at least two others
  (ACCESS_MIN in all); else, in a country, REGION_MIN unrelated services ("a network or power
  problem"); else, worldwide, CAUSE_UNKNOWN_MIN of them ("cause unknown"). Two or three
  unrelated incidents are a coincidence, not an event.
- Each pass names the cause again from the members open now (`likely_cause`): an event that
  began as "cause unknown" becomes "likely Cloudflare" when Cloudflare's own incident opens.
  An event keeps its cause while it shrinks (`_kept_cause`), since the evidence was its members
  together: a provider's name while its open members all rely on it, once the provider itself
  has recovered (its customers are still recovering from it); a region's while it lasts.
  An event ends when fewer than two of its members are open.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# "Within a few minutes": incident starts are dated from the rise of their reports, which for
# one cause differ by up to a few minutes between services of different volume.
JOIN_WINDOW = timedelta(minutes=10)
# A provider's failure reaches its customers one after another; a customer whose incident
# starts later than this after the event began is more likely a problem of its own (with a
# cloud behind a third of all services, its customers have unrelated incidents every day).
RELATED_JOIN_WINDOW = timedelta(minutes=30)
# Customers of a provider without problems of its own that make it the likely cause (and they
# must be most of the cluster): two could share a cloud by chance, as most services do.
PROVIDER_SHARED = 3
# An access network with problems, and this many services in all (itself included).
ACCESS_MIN = 3
# Unrelated services spiking together in one country: its network or power.
REGION_MIN = 4
# Unrelated services spiking together worldwide, of no cause we can name. Three unrelated
# incidents opening within JOIN_WINDOW of each other happen by chance about once a day at 80
# incidents a day (`make bench-events`); four, a few times a month.
CAUSE_UNKNOWN_MIN = 4
# An event lasts while this many of its members are open.
EVENT_MIN_OPEN = 2

PROVIDER = "provider"
ACCESS = "access"
REGION = "region"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class OpenIncident:
    id: int
    service_id: int
    country: str
    started_at: datetime
    event_id: int | None = None


@dataclass(frozen=True, slots=True)
class OpenEvent:
    id: int
    country: str
    cause: str
    cause_service_id: int | None
    started_at: datetime


@dataclass(frozen=True, slots=True)
class DependencyMap:
    # service -> the providers it runs on (any kind)
    providers: Mapping[int, frozenset[int]] = field(default_factory=dict)
    # country -> the access networks there
    access: Mapping[str, frozenset[int]] = field(default_factory=dict)

    def relies_on(self, service_id: int, provider_id: int) -> bool:
        return service_id == provider_id or provider_id in self.providers.get(service_id, ())

    def all_providers(self) -> frozenset[int]:
        return frozenset().union(*self.providers.values()) if self.providers else frozenset()


@dataclass(frozen=True, slots=True)
class Cause:
    kind: str
    service_id: int | None = None
    has_problems: bool = False


@dataclass(frozen=True, slots=True)
class Group:
    """An event as it should be after the pass: an open one (`event_id`) or a new one."""

    event_id: int | None
    country: str
    members: tuple[int, ...]  # open incident ids, earliest start first (the anchor)
    cause: Cause


def _troubled(incidents: Iterable[OpenIncident], country: str) -> set[int]:
    """Services with an open incident in the region or worldwide."""
    return {i.service_id for i in incidents if i.country in (country, "")}


def likely_cause(
    members: list[OpenIncident], *, country: str, deps: DependencyMap, troubled: set[int]
) -> Cause:
    """The likely cause of a group of incidents in one region (see the module docstring)."""
    services = {m.service_id for m in members}
    best: tuple[tuple[int, int, int], Cause] | None = None
    for provider in deps.all_providers() | services:
        covered = sum(1 for s in services if deps.relies_on(s, provider))
        customers = sum(1 for s in services if s != provider and deps.relies_on(s, provider))
        if customers == 0:
            continue
        problems = provider in troubled
        if problems and covered >= EVENT_MIN_OPEN and 2 * covered >= len(services):
            rank = (1, covered, -provider)
        elif customers >= PROVIDER_SHARED and 2 * customers > len(services):
            rank = (0, covered, -provider)
        else:
            continue
        if best is None or rank > best[0]:
            best = (rank, Cause(PROVIDER, provider, problems))
    if best is not None:
        return best[1]
    if country:
        for network in sorted(deps.access.get(country, frozenset())):
            if network in services and len(services) >= ACCESS_MIN:
                return Cause(ACCESS, network, True)
        if len(services) >= REGION_MIN:
            return Cause(REGION)
    return Cause(UNKNOWN)


def _kept_cause(
    event: OpenEvent,
    fresh: Cause,
    current: list[OpenIncident],
    *,
    deps: DependencyMap,
    troubled: set[int],
) -> Cause:
    """An event keeps the cause it was given while it shrinks: the evidence was its members
    together (a region event down to three members, a provider's customers once the provider
    has recovered). Only new direct evidence renames it: a provider or network with problems
    of its own, or an event that had no name."""
    if event.cause == UNKNOWN or (fresh.kind in (PROVIDER, ACCESS) and fresh.has_problems):
        return fresh
    provider = event.cause_service_id
    if event.cause == REGION:
        return Cause(REGION)
    if provider is None:
        return fresh
    if event.cause == ACCESS or all(deps.relies_on(i.service_id, provider) for i in current):
        return Cause(event.cause, provider, provider in troubled)
    return fresh


def _clusters(incidents: list[OpenIncident]) -> list[list[OpenIncident]]:
    """Incidents by start, each cluster spanning at most JOIN_WINDOW from its first."""
    out: list[list[OpenIncident]] = []
    for incident in sorted(incidents, key=lambda i: (i.started_at, i.id)):
        if out and incident.started_at - out[-1][0].started_at <= JOIN_WINDOW:
            out[-1].append(incident)
        else:
            out.append([incident])
    return out


def _split(
    cluster: list[OpenIncident], *, country: str, deps: DependencyMap, troubled: set[int]
) -> list[list[OpenIncident]]:
    """The events in one cluster of new incidents: provider groups first, then the rest."""
    rest = list(cluster)
    groups: list[list[OpenIncident]] = []
    while len(rest) >= EVENT_MIN_OPEN:
        best: tuple[tuple[int, int, int], list[OpenIncident]] | None = None
        services = {i.service_id for i in rest}
        for provider in deps.all_providers() | services:
            covered = [i for i in rest if deps.relies_on(i.service_id, provider)]
            customers = sum(1 for i in covered if i.service_id != provider)
            if customers == 0:
                continue
            if provider in troubled and len(covered) >= EVENT_MIN_OPEN:
                rank = (1, len(covered), -provider)
            elif customers >= PROVIDER_SHARED and 2 * customers > len(rest):
                rank = (0, len(covered), -provider)
            else:
                continue
            if best is None or rank > best[0]:
                best = (rank, covered)
        if best is None:
            break
        groups.append(best[1])
        taken = {i.id for i in best[1]}
        rest = [i for i in rest if i.id not in taken]
    services = {i.service_id for i in rest}
    networks = deps.access.get(country, frozenset()) if country else frozenset()
    if (
        (networks & services and len(services) >= ACCESS_MIN)
        or (country and len(services) >= REGION_MIN)
        or len(services) >= CAUSE_UNKNOWN_MIN
    ):
        groups.append(rest)
    return groups


def group_incidents(
    incidents: list[OpenIncident], events: list[OpenEvent], deps: DependencyMap
) -> list[Group]:
    """Every event there should be after this pass, from the open incidents (with the event
    each is in now) and the open events. An open event missing from the result has ended."""
    by_id = {e.id: e for e in events}
    out: list[Group] = []
    for country in sorted({i.country for i in incidents} | {e.country for e in events}):
        here = [i for i in incidents if i.country == country]
        troubled = _troubled(incidents, country)
        members: dict[int, list[OpenIncident]] = {e.id: [] for e in events if e.country == country}
        loose: list[OpenIncident] = []
        for incident in sorted(here, key=lambda i: (i.started_at, i.id)):
            if incident.event_id in members:
                members[incident.event_id].append(incident)
            else:
                loose.append(incident)
        # New incidents join an open event of their region first.
        unjoined: list[OpenIncident] = []
        for incident in loose:
            home = None
            for event_id in members:
                event = by_id[event_id]
                late = abs(incident.started_at - event.started_at)
                if event.cause == PROVIDER and event.cause_service_id is not None:
                    if (
                        deps.relies_on(incident.service_id, event.cause_service_id)
                        and late <= RELATED_JOIN_WINDOW
                    ):
                        home = event_id
                        break
                elif late <= JOIN_WINDOW:
                    home = event_id
            if home is None:
                unjoined.append(incident)
            else:
                members[home].append(incident)
        for event_id, current in members.items():
            if len(current) < EVENT_MIN_OPEN:
                continue  # ended
            current.sort(key=lambda i: (i.started_at, i.id))
            cause = likely_cause(current, country=country, deps=deps, troubled=troubled)
            cause = _kept_cause(by_id[event_id], cause, current, deps=deps, troubled=troubled)
            out.append(Group(event_id, country, tuple(i.id for i in current), cause))
        for cluster in _clusters(unjoined):
            for group in _split(cluster, country=country, deps=deps, troubled=troubled):
                group.sort(key=lambda i: (i.started_at, i.id))
                cause = likely_cause(group, country=country, deps=deps, troubled=troubled)
                out.append(Group(None, country, tuple(i.id for i in group), cause))
    return out
