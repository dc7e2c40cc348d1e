"""Reads of the catalogue and of what detection decided: services with their level, incidents,
webhook subscriptions and deliveries. Counts over time and regions are analytics' reads
(analytics/selectors/)."""

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Max, Q, QuerySet
from django.utils.translation import gettext as _

from common.regions import country_name, subdivision_name
from outages.models import (
    LEVEL_RANK,
    PROBLEM_LABELS,
    Category,
    Incident,
    Level,
    Service,
    ServiceStatus,
    Subscription,
    WebhookDelivery,
)
from outages.outlook import Outlook, outlook


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    id: int
    slug: str
    name: str
    problems: tuple[str, ...]


def service_infos() -> dict[str, ServiceInfo]:
    """The whole catalogue in one query, keyed by slug: what batch validation needs."""
    rows = Service.objects.values_list("id", "slug", "name", "problems")
    return {slug: ServiceInfo(id, slug, name, tuple(problems)) for id, slug, name, problems in rows}


def service_info(*, slug: str) -> dict[str, ServiceInfo]:
    """The catalogue restricted to one slug (empty if unknown): one indexed lookup."""
    rows = Service.objects.filter(slug=slug.lower()).values_list("id", "slug", "name", "problems")
    return {s: ServiceInfo(id, s, name, tuple(problems)) for id, s, name, problems in rows}


# Seconds a process keeps the catalogue it read for single reports: every report looks its
# service up, and the catalogue changes a few times a year. A save or delete in this process
# forgets it at once (outages.apps); other processes see the change within this time.
CATALOGUE_TTL = 30.0
_catalogue: tuple[float, dict[str, ServiceInfo]] | None = None
_catalogue_lock = threading.Lock()


def service_info_cached(*, slug: str) -> dict[str, ServiceInfo]:
    """service_info from this process's copy of the catalogue. A slug the copy does not know
    is looked up in the database (a service added since), so a new service is never refused;
    a service removed since is refused by the insert's foreign key (the caller's 400)."""
    global _catalogue
    now = time.monotonic()
    held = _catalogue
    if held is None or now - held[0] > CATALOGUE_TTL:
        with _catalogue_lock:
            held = _catalogue
            if held is None or now - held[0] > CATALOGUE_TTL:
                held = (now, service_infos())
                _catalogue = held
    info = held[1].get(slug.lower())
    if info is None:
        return service_info(slug=slug)
    return {info.slug: info}


def catalogue_forget(**_: object) -> None:
    """Drop this process's copy of the catalogue (a service was saved or deleted)."""
    global _catalogue
    _catalogue = None


# ---------------------------------------------------------------------------------- status


@dataclass(frozen=True, slots=True)
class ServiceRow:
    id: int
    slug: str
    name: str
    category: str
    category_label: str
    level: str
    since: datetime | None
    current: float
    expected: float

    @property
    def excess(self) -> float:
        return self.current - self.expected

    @property
    def level_label(self) -> str:
        return str(Level(self.level).label)


def service_statuses(
    *,
    slug: str | None = None,
    category: str | None = None,
    level: str | None = None,
    search: str | None = None,
) -> list[ServiceRow]:
    """Every service (or the one with `slug`, or those matching the filters) with its current
    level from the last detection pass, by name: one query."""
    labels = dict(Category.choices)
    qs = Service.objects.order_by("name")
    if slug is not None:
        qs = qs.filter(slug=slug)
    if category:
        qs = qs.filter(category=category)
    if level == Level.OK:
        # A service no detection pass has seen yet has no status row: it is "ok".
        qs = qs.filter(Q(status__level=Level.OK) | Q(status__isnull=True))
    elif level:
        qs = qs.filter(status__level=level)
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(slug__icontains=search))
    rows = qs.values_list(
        "id",
        "slug",
        "name",
        "category",
        "status__level",
        "status__since",
        "status__current",
        "status__expected",
    )
    return [
        ServiceRow(
            id=sid,
            slug=slug,
            name=name,
            category=category,
            category_label=str(labels.get(category, category)),
            level=level or Level.OK,
            since=since,
            current=current or 0.0,
            expected=expected or 0.0,
        )
        for sid, slug, name, category, level, since, current, expected in rows
    ]


def status_written_last() -> datetime | None:
    """When a detection pass last wrote the statuses (each pass rewrites every service's), or
    None before the first pass."""
    latest: datetime | None = ServiceStatus.objects.aggregate(at=Max("updated_at"))["at"]
    return latest


def problems_now(rows: Iterable[ServiceRow]) -> list[ServiceRow]:
    """Services in outage or with possible problems: worst level first, then largest excess."""
    bad = [r for r in rows if r.level != Level.OK]
    return sorted(bad, key=lambda r: (-LEVEL_RANK[Level(r.level)], -r.excess, r.name))


# ------------------------------------------------------------------------------- incidents


@dataclass(frozen=True, slots=True)
class IncidentRow:
    id: int
    service_slug: str
    service_name: str
    country: str
    country_name: str
    level: str
    max_level: str
    started_at: datetime
    ended_at: datetime | None
    peak_at: datetime
    peak_reports: float
    peak_expected: float
    regions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def duration(self) -> timedelta | None:
        return self.ended_at - self.started_at if self.ended_at else None

    @property
    def scope(self) -> str:
        return self.country_name or _("Worldwide")

    @property
    def level_label(self) -> str:
        return str(Level(self.level).label)


def _incident(incident: Incident) -> IncidentRow:
    regions = []
    for r in incident.regions[:5]:
        sub = r.get("subdivision") or ""
        regions.append(subdivision_name(sub) if sub else country_name(r.get("country", "")))
    problems = [
        f"{PROBLEM_LABELS.get(p['problem'], p['problem'])} ({round(100 * p['share'])}%)"
        for p in incident.problems[:3]
    ]
    return IncidentRow(
        id=incident.id,
        service_slug=incident.service.slug,
        service_name=incident.service.name,
        country=incident.country,
        country_name=country_name(incident.country) if incident.country else "",
        level=incident.level,
        max_level=incident.max_level,
        started_at=incident.started_at,
        ended_at=incident.ended_at,
        peak_at=incident.peak_at,
        peak_reports=incident.peak_reports,
        peak_expected=incident.peak_expected,
        regions=regions,
        problems=problems,
    )


def incidents_open(
    *, service_id: int | None = None, country: str | None = None
) -> list[IncidentRow]:
    """Open incidents, newest first (uses the one-open-per-scope partial index's rows only)."""
    qs = Incident.objects.filter(ended_at=None).select_related("service")
    if service_id is not None:
        qs = qs.filter(service_id=service_id)
    if country is not None:
        qs = qs.filter(country=country)
    return [_incident(o) for o in qs.order_by("-started_at")[:200]]


def incident_scopes_recent(*, since: datetime) -> set[tuple[int, str]]:
    """(service, country) of the incidents open now or resolved since `since`."""
    rows = Incident.objects.filter(Q(ended_at=None) | Q(ended_at__gte=since)).values_list(
        "service_id", "country"
    )
    return set(rows)


def incidents_past(*, service_id: int, limit: int = 10) -> list[IncidentRow]:
    qs = (
        Incident.objects.filter(service_id=service_id)
        .exclude(ended_at=None)
        .select_related("service")
        .order_by("-started_at")[:limit]
    )
    return [_incident(o) for o in qs]


def service_row(*, slug: str) -> ServiceRow | None:
    rows = service_statuses(slug=slug)
    return rows[0] if rows else None


# ------------------------------------------------------------------------------ public API


def incident_list(
    *,
    service_id: int | None = None,
    country: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Incident]:
    """Incidents newest first (by start, then id: a stable order for cursor pagination);
    `since`/`until` bound the start time, `country` the incident's scope."""
    qs = Incident.objects.select_related("service")
    if service_id is not None:
        qs = qs.filter(service_id=service_id)
    if country is not None:
        qs = qs.filter(country=country)
    if status == "open":
        qs = qs.filter(ended_at=None)
    elif status == "resolved":
        qs = qs.exclude(ended_at=None)
    if since is not None:
        qs = qs.filter(started_at__gte=since)
    if until is not None:
        qs = qs.filter(started_at__lt=until)
    return qs.order_by("-started_at", "-id")


def incident_get(*, incident_id: int) -> Incident | None:
    return Incident.objects.select_related("service").filter(id=incident_id).first()


def incident_regions(*, incident: Incident) -> list[dict[str, object]]:
    """The incident's regions with their names, largest excess first."""
    rows = []
    for r in incident.regions:
        cc, sub = str(r.get("country", "")), str(r.get("subdivision") or "")
        rows.append(
            {
                "country": cc,
                "country_name": country_name(cc) if cc else "",
                "subdivision": sub,
                "subdivision_name": subdivision_name(sub) if sub else "",
                "reports": r.get("reports", 0),
                "expected": r.get("expected", 0.0),
                "excess": r.get("excess", 0.0),
            }
        )
    return rows


def incident_problems(*, incident: Incident) -> list[dict[str, object]]:
    return [
        {
            "problem": p["problem"],
            "name": PROBLEM_LABELS.get(p["problem"], p["problem"]),
            "reports": p.get("reports", 0),
            "share": p.get("share", 0.0),
        }
        for p in incident.problems
    ]


def subscription_list(*, owner_id: int) -> QuerySet[Subscription]:
    return Subscription.objects.filter(owner_id=owner_id).prefetch_related("services")


def subscription_get(*, owner_id: int, subscription_id: int) -> Subscription | None:
    return subscription_list(owner_id=owner_id).filter(id=subscription_id).first()


def subscriptions_for_incident(*, incident: Incident) -> list[Subscription]:
    """Active subscriptions that want this incident: its service (or all services), one of
    its countries (or all countries; a worldwide incident is in every country it affects),
    and a level the incident has reached."""
    qs = (
        Subscription.objects.filter(active=True)
        .filter(Q(services=None) | Q(services=incident.service_id))
        .distinct()
        .order_by("id")
    )
    reached = LEVEL_RANK[Level(incident.max_level)]
    places = (
        {incident.country}
        if incident.country
        else {str(r.get("country", "")) for r in incident.regions if r.get("country")}
    )
    return [
        s
        for s in qs
        if LEVEL_RANK[Level(s.min_level)] <= reached
        and (not s.countries or places & set(s.countries))
    ]


def delivery_list(*, subscription_id: int, limit: int = 50) -> list[WebhookDelivery]:
    """A subscription's latest deliveries with every attempt, newest first."""
    return list(
        WebhookDelivery.objects.filter(subscription_id=subscription_id)
        .prefetch_related("tries")
        .order_by("-created_at", "-id")[:limit]
    )


# Recent incidents say most about the next one; a thousand per group is plenty for the bounds.
OUTLOOK_HISTORY = 1000


def _durations(incidents: QuerySet[Incident]) -> list[float]:
    rows = (
        incidents.filter(ended_at__isnull=False, max_level=Level.OUTAGE)
        .order_by("-started_at")
        .values_list("started_at", "ended_at")[:OUTLOOK_HISTORY]
    )
    return [(end - start).total_seconds() / 60 for start, end in rows if end is not None]


def outlook_groups(
    *, service: Service, country: str = "", exclude_id: int | None = None
) -> list[tuple[str, list[float]]]:
    """Past incident durations (minutes), closest group first (see outages.outlook)."""
    past = Incident.objects.all()
    if exclude_id is not None:
        past = past.exclude(id=exclude_id)
    groups: list[tuple[str, list[float]]] = []
    if country:
        groups.append(
            ("service_country", _durations(past.filter(service=service, country=country)))
        )
    groups.append(("service", _durations(past.filter(service=service, country=""))))
    groups.append(
        ("category", _durations(past.filter(service__category=service.category, country="")))
    )
    groups.append(("all", _durations(past.filter(country=""))))
    return groups


def incident_outlook(*, incident: Incident, now: datetime) -> Outlook | None:
    """For an open incident: when it is likely over, from how long it has lasted; for a closed
    one: how long incidents like it last."""
    groups = outlook_groups(
        service=incident.service, country=incident.country, exclude_id=incident.id
    )
    if incident.ended_at is not None:
        return outlook(groups)
    age = max((now - incident.started_at).total_seconds() / 60, 0.0)
    return outlook(groups, age_minutes=age, started_at=incident.started_at)


def service_outlook(*, service: Service) -> Outlook | None:
    """How long this service's incidents (or its category's) last."""
    return outlook(outlook_groups(service=service))


# Enough to choose from, few enough to read at a glance.
ALTERNATIVES_SHOWN = 4


def alternatives(*, service_id: int, category: str, country: str = "") -> list[ServiceRow]:
    """Services of the same category with no problems right now where the incident is (no
    worldwide incident, and for a country incident none in that country): what people can use
    instead. Busiest first (expected reports in the status window), then by name."""
    # Worldwide, a problem in one country does not make a service unusable; in a country, a
    # worldwide problem does.
    busy_there = Incident.objects.filter(ended_at=None).filter(Q(country=country) | Q(country=""))
    taken = set(busy_there.values_list("service_id", flat=True))
    rows = [
        row
        for row in service_statuses(category=category, level=Level.OK)
        if row.id != service_id and row.id not in taken
    ]
    rows.sort(key=lambda row: (-row.expected, row.name))
    return rows[:ALTERNATIVES_SHOWN]
