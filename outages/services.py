"""Writes of the catalogue and of incidents. Detection hands over what it found for every
series once per pass (`detection_apply`); what opens, updates and resolves an incident, and
what a service's status says, is decided here."""

import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from outages import grouping
from outages.catalogue import Access, Fact, StatusSource
from outages.models import (
    LEVEL_RANK,
    AccessProvider,
    Dependency,
    Event,
    Incident,
    Level,
    OutboxMessage,
    OutboxTask,
    Service,
    ServiceStatus,
    StatusFormat,
    StatusPage,
    Subscription,
)
from outages.statuspages import Official, StatusPageError, fetch, parse_feed, parse_statuspage
from outages.webhooks import announce_event_later, announce_later, webhook_url_problem


@transaction.atomic
def service_upsert(
    *, slug: str, name: str, category: str, home_url: str, problems: list[str]
) -> Service:
    fields = {"name": name, "category": category, "home_url": home_url, "problems": problems}
    Service(slug=slug, **fields).full_clean(validate_unique=False)
    service, _ = Service.objects.update_or_create(slug=slug, defaults=fields)
    return service


def dependency_map_seed(*, facts: Iterable[Fact], access: Iterable[Access]) -> tuple[int, int]:
    """Add the dependency map's facts that are missing (by service, provider and kind; by
    service and country). Facts already there, edited in the admin or not, are left as they
    are. Returns how many dependencies and access networks were added."""
    ids = dict(Service.objects.values_list("slug", "id"))
    added_deps = added_access = 0
    with transaction.atomic():
        for fact in facts:
            _, created = Dependency.objects.get_or_create(
                service_id=ids[fact.service],
                provider_id=ids[fact.provider],
                kind=fact.kind,
                defaults={"source": fact.source},
            )
            added_deps += int(created)
        for entry in access:
            _, created = AccessProvider.objects.get_or_create(
                service_id=ids[entry.service],
                country=entry.country,
                defaults={"source": entry.source},
            )
            added_access += int(created)
    return added_deps, added_access


def _rank(level: str) -> int:
    return LEVEL_RANK[Level(level)]


def incident_observe(
    *,
    service_id: int,
    country: str,
    level: str,
    at: datetime,
    started_at: datetime,
    reports: float,
    expected: float,
) -> tuple[Incident, bool]:
    """Open the incident of a (service, scope) or update the open one. Returns (outage, opened).

    Safe on two detection workers at once: the partial unique constraint admits one open
    incident per scope, and the loser of the race updates the winner's row instead.
    """
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update()
            .filter(service_id=service_id, country=country, ended_at=None)
            .first()
        )
        opened = False
        if incident is None:
            try:
                with transaction.atomic():
                    incident = Incident.objects.create(
                        service_id=service_id,
                        country=country,
                        level=level,
                        max_level=level,
                        started_at=min(started_at, at),
                        peak_at=at,
                        peak_reports=reports,
                        peak_expected=expected,
                    )
                announce_later(incident.id)
                return incident, True
            except IntegrityError:
                incident = Incident.objects.select_for_update().get(
                    service_id=service_id, country=country, ended_at=None
                )
        if incident.level != level:
            announce_later(incident.id)
        incident.level = level
        if _rank(level) > _rank(incident.max_level):
            incident.max_level = level
        if reports > incident.peak_reports:
            incident.peak_at, incident.peak_reports, incident.peak_expected = at, reports, expected
        incident.save(
            update_fields=[
                "level",
                "max_level",
                "peak_at",
                "peak_reports",
                "peak_expected",
                "updated_at",
            ]
        )
        return incident, opened


def incident_resolve(*, incident_id: int, ended_at: datetime) -> bool:
    """Close an open incident; False if it was already closed (by another worker)."""
    with transaction.atomic():
        closed = (
            Incident.objects.filter(id=incident_id, ended_at=None).update(
                ended_at=ended_at, level=Level.OK
            )
            == 1
        )
        if closed:
            announce_later(incident_id)
    return closed


def incident_set_breakdown(
    *, incident_id: int, regions: list[dict[str, object]], problems: list[dict[str, object]]
) -> None:
    with transaction.atomic():
        Incident.objects.filter(id=incident_id).update(regions=regions, problems=problems)
        # Detection writes the breakdown right after opening an incident, and again every
        # minute while it is open. Announcing an unannounced state here too covers a
        # subscription made since the change (announce_later writes nothing without one);
        # a change whose message still waits in the outbox needs no second one. The claim in
        # incident_notify keeps it to one announcement per change.
        unannounced = (
            Incident.objects.filter(id=incident_id, ended_at=None)
            .exclude(notified_level=F("level"))
            .exists()
        )
        waiting = OutboxMessage.objects.filter(task=OutboxTask.NOTIFY, object_id=incident_id)
        if unannounced and not waiting.exists():
            announce_later(incident_id)


def service_status_write(*, rows: list[ServiceStatus]) -> None:
    """Replace the status of the given services in one statement."""
    ServiceStatus.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["service"],
        update_fields=["level", "since", "current", "expected", "threshold", "updated_at"],
    )


@dataclass(frozen=True, slots=True)
class SeriesState:
    """What a detection pass found for one series at its last complete minute: a service
    worldwide (country "") or in one busy country."""

    service_id: int
    country: str
    level: str  # the detector's state: ok, possible or outage
    since: datetime | None  # when that state began
    reports: float  # reports in the minute
    expected: float  # reports expected in the minute
    recent: float  # reports in the status window
    recent_expected: float  # reports expected in it
    threshold: float
    # Reports in the last few minutes (the detector's CLOSE_RECENT_SPAN) and expected in them:
    # whether the reports are still elevated now, whatever the detector still remembers.
    latest: float = 0.0
    latest_expected: float = 0.0


@dataclass(frozen=True)
class DetectionApplied:
    opened: int
    resolved: int
    active: list[Incident]  # incidents open after the pass, whose breakdowns are due


# People saying "it works again" who can close an incident sooner (detection_apply): fewer
# is anyone's coincidence.
RECOVERY_MIN = 3
# The latest reports are "back to the usual" below this many times the expected count (the
# detector's own bar for "still elevated" when closing), or within RECOVERY_MIN of it.
RECOVERY_USUAL = 1.5


def back_to_usual(state: SeriesState) -> bool:
    usual = max(RECOVERY_USUAL * state.latest_expected, state.latest_expected + RECOVERY_MIN)
    return state.latest <= usual


def recovered(state: SeriesState, *, said: int) -> bool:
    """Whether people saying it works again may close this series' incident now: enough of
    them, more than the reports above the usual lately, and those reports back to the usual."""
    excess = state.latest - state.latest_expected
    return said >= RECOVERY_MIN and said >= excess and back_to_usual(state)


def detection_apply(
    *,
    at: datetime,
    now: datetime,
    states: Iterable[SeriesState],
    recoveries: Mapping[tuple[int, str], int] | None = None,
) -> DetectionApplied:
    """Open, update and resolve incidents from one detection pass over every series, and
    rewrite every service's status. `at` is the minute judged, `now` the time of the pass.

    `recoveries`: per (service, country) scope of a recent incident, how many people said it
    works again in the status window. Where at least RECOVERY_MIN did, and the latest reports
    are back to the usual (`recovered`), the detector's level, which stays up until the
    reports have been quiet for a while, counts as no problem: the incident resolves now and
    the status says so; within CLOSE_QUIET of an incident's end the held level does not reopen
    it while the reports stay at the usual. It never keeps an incident open, or shuts or
    suppresses one whose reports are elevated now."""
    recoveries = recoveries or {}
    open_incidents = {(o.service_id, o.country): o for o in Incident.objects.filter(ended_at=None)}
    opened = resolved = 0
    active: list[Incident] = []
    statuses: dict[int, ServiceStatus] = {}
    for state in states:
        scope = (state.service_id, state.country)
        said = recoveries.get(scope)
        if state.level != Level.OK and said is not None:
            # An open incident closes on people's word; a just-closed one is not reopened by
            # the detector's memory of it while the reports stay at the usual.
            if recovered(state, said=said) if scope in open_incidents else back_to_usual(state):
                state = replace(state, level=Level.OK, since=None)
        # An incident opens on outage-level evidence only; "possible problems" shows on the
        # status line, and keeps an already open incident going.
        if state.level == Level.OUTAGE or (
            state.level == Level.POSSIBLE and scope in open_incidents
        ):
            incident, was_opened = incident_observe(
                service_id=state.service_id,
                country=state.country,
                level=state.level,
                at=at,
                started_at=state.since or at,
                reports=state.reports,
                expected=state.expected,
            )
            opened += int(was_opened)
            open_incidents.pop(scope, None)
            active.append(incident)
        if not state.country:
            statuses[state.service_id] = ServiceStatus(
                service_id=state.service_id,
                level=state.level if state.level in Level.values else Level.OK,
                since=state.since if state.level != Level.OK else None,
                current=state.recent,
                expected=state.recent_expected,
                threshold=state.threshold,
                updated_at=now,
            )
    # Incidents whose series is quiet again (or has no reports left at all) are resolved.
    for incident in open_incidents.values():
        resolved += int(incident_resolve(incident_id=incident.id, ended_at=at))
    # A country-only incident raises its service's level too: "problems in Brazil".
    for incident in Incident.objects.filter(ended_at=None).exclude(country=""):
        status = statuses.get(incident.service_id)
        if status is not None and _rank(incident.level) > _rank(status.level):
            status.level = incident.level
            status.since = incident.started_at
    for service_id in Service.objects.exclude(id__in=list(statuses)).values_list("id", flat=True):
        statuses[service_id] = ServiceStatus(service_id=service_id, level=Level.OK, updated_at=now)
    service_status_write(rows=list(statuses.values()))
    events_apply(at=at)
    return DetectionApplied(opened=opened, resolved=resolved, active=active)


def dependency_map() -> grouping.DependencyMap:
    providers: dict[int, set[int]] = {}
    for service_id, provider_id in Dependency.objects.values_list("service_id", "provider_id"):
        providers.setdefault(service_id, set()).add(provider_id)
    access: dict[str, set[int]] = {}
    for service_id, country in AccessProvider.objects.values_list("service_id", "country"):
        access.setdefault(country, set()).add(service_id)
    return grouping.DependencyMap(
        providers={k: frozenset(v) for k, v in providers.items()},
        access={k: frozenset(v) for k, v in access.items()},
    )


@dataclass(frozen=True)
class EventsApplied:
    opened: int
    changed: int
    ended: int


def events_apply(*, at: datetime) -> EventsApplied:
    """Group the open incidents into events (outages.grouping decides which and why), after
    the pass has opened, updated and resolved its incidents: open new events, grow, shrink
    and rename the cause of open ones, end those with fewer than two open members.

    Safe on two detection workers at once: open events are locked for the step; a new event
    is unique by its anchor (its earliest member), so two workers forming the same event
    create it once and the loser joins the winner's row; members are claimed only while in no
    event, so no incident is taken from another event."""
    opened = changed = ended = 0
    with transaction.atomic():
        # Serialise workers that update the same open events.
        list(Event.objects.select_for_update().filter(ended_at=None).values_list("id"))
        events = {e.id: e for e in Event.objects.filter(ended_at=None)}
        incidents = list(Incident.objects.filter(ended_at=None))
        deps = dependency_map()
        groups = grouping.group_incidents(
            [
                grouping.OpenIncident(i.id, i.service_id, i.country, i.started_at, i.event_id)
                for i in incidents
            ],
            [
                grouping.OpenEvent(e.id, e.country, e.cause, e.cause_service_id, e.started_at)
                for e in events.values()
            ],
            deps,
        )
        started = {i.id: i.started_at for i in incidents}
        kept: set[int] = set()
        for group in groups:
            event = events.get(group.event_id) if group.event_id is not None else None
            if event is None:
                event, created = _event_create(group=group, at=at, started=started)
                opened += int(created)
                events[event.id] = event
            kept.add(event.id)
            changed += int(_event_update(event=event, group=group, at=at))
        # By the ids they had: an event given up by _event_update has none any more.
        for event_id, event in events.items():
            if event_id not in kept:
                ended += int(_event_end(event=event, at=at))
    return EventsApplied(opened=opened, changed=changed, ended=ended)


def _event_create(
    *, group: grouping.Group, at: datetime, started: dict[int, datetime]
) -> tuple[Event, bool]:
    anchor = group.members[0]
    try:
        with transaction.atomic():
            event = Event.objects.create(
                country=group.country,
                anchor_id=anchor,
                started_at=started[anchor],
                cause=group.cause.kind,
                cause_service_id=group.cause.service_id,
                cause_has_problems=group.cause.has_problems,
                active_members=0,
                peak_members=0,
                updated_at=at,
                version=0,  # _event_update counts the first change
            )
        return event, True
    except IntegrityError:
        # Another worker formed this event in the meantime: update its row instead.
        return Event.objects.select_for_update().get(anchor_id=anchor, ended_at=None), False


def _event_update(*, event: Event, group: grouping.Group, at: datetime) -> bool:
    """Claim the group's members that are in no event, and write the event's cause and size.
    True if anything subscribers hear about changed."""
    # Members of no event, or of one that has ended (an incident outlasting its event may
    # start another); never those of another open event. The condition is on the incident's
    # own column, not a join: a concurrent pass may have claimed a row since this statement's
    # snapshot, and PostgreSQL re-checks only the row's own conditions on its new version
    # (through a join, `id IN (SELECT ...)`, the stale answer would take the row over).
    ended = Event.objects.filter(ended_at__isnull=False).values("id")
    Incident.objects.filter(id__in=group.members).filter(Q(event=None) | Q(event__in=ended)).update(
        event=event
    )
    active = Incident.objects.filter(event=event, ended_at=None).count()
    if active < grouping.EVENT_MIN_OPEN:
        # Another worker had claimed the members: this event has none to speak of.
        if event.version == 0:
            Incident.objects.filter(event=event).update(event=None)
            event.delete()
            return False
        return _event_end(event=event, at=at)
    cause = group.cause
    news = (
        event.version == 0
        or active != event.active_members
        or (event.cause, event.cause_service_id, event.cause_has_problems)
        != (cause.kind, cause.service_id, cause.has_problems)
    )
    if not news:
        return False
    Event.objects.filter(id=event.id).update(
        cause=cause.kind,
        cause_service_id=cause.service_id,
        cause_has_problems=cause.has_problems,
        active_members=active,
        peak_members=max(event.peak_members, active),
        updated_at=at,
        version=F("version") + 1,
    )
    announce_event_later(event.id)
    return True


def _event_end(*, event: Event, at: datetime) -> bool:
    active = Incident.objects.filter(event=event, ended_at=None).count()
    done = (
        Event.objects.filter(id=event.id, ended_at=None).update(
            ended_at=at, active_members=active, updated_at=at, version=F("version") + 1
        )
        == 1
    )
    if done:
        announce_event_later(event.id)
    return done


def _check_subscription(*, url: str) -> None:
    problem = webhook_url_problem(url)
    if problem:
        raise ValidationError({"url": [problem]})


@transaction.atomic
def subscription_create(
    *,
    owner: User,
    url: str,
    services: list[Service],
    countries: list[str],
    min_level: str,
    active: bool = True,
) -> Subscription:
    _check_subscription(url=url)
    # Serialise one owner's creations so two parallel calls cannot both pass the limit.
    User.objects.select_for_update().filter(id=owner.id).first()
    if Subscription.objects.filter(owner=owner).count() >= settings.WEBHOOK_MAX_SUBSCRIPTIONS:
        raise ValidationError(
            {"url": [f"At most {settings.WEBHOOK_MAX_SUBSCRIPTIONS} subscriptions per token."]}
        )
    subscription = Subscription.objects.create(
        owner=owner,
        url=url,
        countries=sorted(set(countries)),
        min_level=min_level,
        secret=secrets.token_hex(32),
        active=active,
    )
    subscription.services.set(services)
    return subscription


@transaction.atomic
def subscription_update(
    *, subscription: Subscription, rotate_secret: bool = False, **changes: Any
) -> Subscription:
    """Change a subscription's url, services, countries, min_level or active flag; a new
    secret if asked."""
    services = changes.pop("services", None)
    if "countries" in changes:
        changes["countries"] = sorted(set(changes["countries"]))
    for name, value in changes.items():
        setattr(subscription, name, value)
    _check_subscription(url=subscription.url)
    if rotate_secret:
        subscription.secret = secrets.token_hex(32)
    subscription.save()
    if services is not None:
        subscription.services.set(services)
    return subscription


def subscription_delete(*, subscription: Subscription) -> None:
    subscription.delete()


def detection_forget() -> None:
    """Forget every incident and status (their counts are being rebuilt from scratch)."""
    with transaction.atomic():
        Event.objects.all().delete()
        Incident.objects.all().delete()
        ServiceStatus.objects.all().delete()


def incident_record_past(
    *,
    service_id: int,
    country: str,
    started_at: datetime,
    ended_at: datetime,
    max_level: str,
    peak_at: datetime,
    peak_reports: float,
    peak_expected: float,
) -> Incident | None:
    """Record an incident that detection, replayed over stored counts, saw open and close.
    Returns it if it is new: one of the same scope and start is kept as it is, and a run that
    reached "possible problems" only is a status, not an incident, as it is live."""
    if max_level != Level.OUTAGE:
        return None
    incident, created = Incident.objects.get_or_create(
        service_id=service_id,
        country=country,
        started_at=started_at,
        defaults={
            "level": Level.OK,
            "max_level": max_level,
            "peak_at": peak_at,
            "peak_reports": peak_reports,
            "peak_expected": peak_expected,
            "ended_at": ended_at,
        },
    )
    return incident if created else None


# ----------------------------------------------------------------------- official status

logger = logging.getLogger(__name__)

# A poll claims its page for this long (two workers never poll one page at once).
POLL_LEASE = timedelta(minutes=2)
# An official incident acknowledges one of ours that started at most this long after it was
# posted (pages sometimes post first) or before it, up to our incident's end.
ACK_BEFORE = timedelta(hours=1)
# Our incidents whose acknowledgement a poll looks for.
ACK_HISTORY = timedelta(days=30)


def status_pages_seed(*, sources: Iterable[StatusSource]) -> int:
    """Add the official status pages that are missing; edited ones are left as they are."""
    ids = dict(Service.objects.values_list("slug", "id"))
    added = 0
    for source in sources:
        _, created = StatusPage.objects.get_or_create(
            service_id=ids[source.service],
            defaults={"format": source.format, "url": source.url, "page_url": source.page_url},
        )
        added += int(created)
    return added


def status_pages_due(*, now: datetime) -> list[int]:
    """The pages whose next poll is due (or that were never polled)."""
    due = StatusPage.objects.filter(Q(next_poll_at=None) | Q(next_poll_at__lte=now))
    return list(due.order_by("next_poll_at", "id").values_list("id", flat=True)[:500])


def _backoff(failures: int) -> timedelta:
    seconds = settings.STATUS_PAGE_INTERVAL * 2 ** min(failures, 16)
    return timedelta(seconds=min(seconds, settings.STATUS_PAGE_BACKOFF_MAX))


def _read(page: StatusPage, now: datetime) -> tuple[Official | None, dict[str, dict[str, str]]]:
    """Fetch and parse the page: (what it says, or None if nothing changed; validators)."""
    if page.format == StatusFormat.STATUSPAGE:
        root = page.url.rstrip("/")
        urls = [f"{root}/api/v2/summary.json", f"{root}/api/v2/incidents.json"]
    else:
        urls = [page.url]
    validators: dict[str, dict[str, str]] = {}
    bodies: list[bytes | None] = []
    for url in urls:
        previous = page.validators.get(url) or {}
        # A 304 is only worth as much as the state kept from the answer it refers to.
        kept = page.good_at is not None
        got = fetch(
            url,
            etag=str(previous.get("etag", "")) if kept else "",
            last_modified=str(previous.get("last_modified", "")) if kept else "",
        )
        if got.status == 304:
            validators[url] = previous
            bodies.append(None)
        else:
            validators[url] = {"etag": got.etag, "last_modified": got.last_modified}
            bodies.append(got.body)
    if all(b is None for b in bodies):
        return None, validators
    if page.format == StatusFormat.STATUSPAGE:
        summary = bodies[0]
        if summary is None:
            # The summary is unchanged but the history is not: read the summary again in full.
            summary = fetch(urls[0]).body
        return parse_statuspage(summary, bodies[1]), validators
    assert bodies[0] is not None
    return parse_feed(bodies[0], now=now), validators


def status_page_poll(*, status_page_id: int, now: datetime) -> str:
    """Poll one official status page: keep what it says, or on any failure log it, keep the
    last good state and back off (interval × 2^failures, at most STATUS_PAGE_BACKOFF_MAX).
    Returns what happened: polled, unchanged, failed, busy (another poll of the host just
    ran), skipped (not due: another worker has it)."""
    claimed = StatusPage.objects.filter(
        Q(next_poll_at=None) | Q(next_poll_at__lte=now), id=status_page_id
    ).update(next_poll_at=now + POLL_LEASE)
    if claimed != 1:
        return "skipped"
    page = StatusPage.objects.select_related("service").get(id=status_page_id)
    host = (urlsplit(page.url).hostname or "").lower()
    # Several services' pages may live on one provider's host: one poll per host at a time,
    # and at most one every STATUS_PAGE_HOST_INTERVAL seconds.
    if not cache.add(f"status-host:{host}", 1, settings.STATUS_PAGE_HOST_INTERVAL):
        StatusPage.objects.filter(id=page.id).update(
            next_poll_at=now + timedelta(seconds=settings.STATUS_PAGE_HOST_INTERVAL)
        )
        return "busy"
    try:
        official, validators = _read(page, now)
    except StatusPageError as exc:
        failures = page.failures + 1
        logger.warning(
            "status page of %s (%s) failed, keeping its last good state: %s",
            page.service.slug,
            page.url,
            exc,
        )
        StatusPage.objects.filter(id=page.id).update(
            checked_at=now,
            failures=failures,
            last_error=str(exc)[:300],
            next_poll_at=now + _backoff(failures),
        )
        return "failed"
    interval = timedelta(seconds=settings.STATUS_PAGE_INTERVAL)
    if official is None:
        StatusPage.objects.filter(id=page.id).update(
            checked_at=now, good_at=now, failures=0, last_error="", next_poll_at=now + interval
        )
        return "unchanged"
    with transaction.atomic():
        StatusPage.objects.filter(id=page.id).update(
            validators=validators,
            indicator=official.indicator,
            description=official.description,
            components=official.components,
            incidents=[i.as_json() for i in official.incidents[:50]],
            official_since=official.since,
            checked_at=now,
            good_at=now,
            failures=0,
            last_error="",
            next_poll_at=now + interval,
        )
        incidents_acknowledge(service_id=page.service_id, official=official, now=now)
    return "polled"


def incidents_acknowledge(*, service_id: int, official: Official, now: datetime) -> int:
    """Record on each of the service's recent incidents when the official page first posted
    a matching incident (one posted from ACK_BEFORE before our start until our end) and
    when it said they were all resolved. Returns how many incidents changed."""
    changed = 0
    ours = Incident.objects.filter(service_id=service_id, started_at__gte=now - ACK_HISTORY)
    for incident in ours:
        until = incident.ended_at or now
        matching = [
            o
            for o in official.incidents
            if incident.started_at - ACK_BEFORE <= o.created_at <= until and o.status != "past"
        ]
        if not matching:
            continue
        acknowledged = min(o.created_at for o in matching)
        resolved = (
            max(o.resolved_at for o in matching if o.resolved_at is not None)
            if all(o.resolved_at is not None for o in matching)
            else None
        )
        if incident.official_acknowledged_at is not None:
            acknowledged = min(acknowledged, incident.official_acknowledged_at)
        if (acknowledged, resolved) != (
            incident.official_acknowledged_at,
            incident.official_resolved_at,
        ):
            Incident.objects.filter(id=incident.id).update(
                official_acknowledged_at=acknowledged, official_resolved_at=resolved
            )
            changed += 1
    return changed
