"""Writes of the catalogue and of incidents. Detection hands over what it found for every
series once per pass (`detection_apply`); what opens, updates and resolves an incident, and
what a service's status says, is decided here."""

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from outages.models import (
    LEVEL_RANK,
    Incident,
    Level,
    OutboxMessage,
    OutboxTask,
    Service,
    ServiceStatus,
    Subscription,
)
from outages.webhooks import announce_later, webhook_url_problem


@transaction.atomic
def service_upsert(
    *, slug: str, name: str, category: str, home_url: str, problems: list[str]
) -> Service:
    fields = {"name": name, "category": category, "home_url": home_url, "problems": problems}
    Service(slug=slug, **fields).full_clean(validate_unique=False)
    service, _ = Service.objects.update_or_create(slug=slug, defaults=fields)
    return service


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
    return DetectionApplied(opened=opened, resolved=resolved, active=active)


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
