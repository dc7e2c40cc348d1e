"""Reads of the catalogue and of what detection decided: services with their level, incidents,
webhook subscriptions and deliveries. Counts over time and regions are analytics' reads
(analytics/selectors/)."""

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Max, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext

from common.regions import country_name, subdivision_name
from outages.models import (
    LEVEL_RANK,
    PROBLEM_LABELS,
    AccessProvider,
    Category,
    CauseKind,
    Dependency,
    Event,
    Incident,
    Level,
    Service,
    ServiceStatus,
    StatusPage,
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
    event: int | None = None

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
        event=incident.event_id,
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


# -------------------------------------------------------------------------- dependency map


@dataclass(frozen=True, slots=True)
class DependencyRow:
    slug: str
    name: str
    kind: str
    kind_label: str
    source: str


def service_dependencies(*, service_id: int) -> list[DependencyRow]:
    """What the service runs on, by provider name."""
    rows = (
        Dependency.objects.filter(service_id=service_id)
        .select_related("provider")
        .order_by("provider__name", "kind")
    )
    return [
        DependencyRow(d.provider.slug, d.provider.name, d.kind, d.get_kind_display(), d.source)
        for d in rows
    ]


def service_dependents(*, service_id: int) -> list[DependencyRow]:
    """The catalogue services that run on this one (a provider's customers)."""
    rows = (
        Dependency.objects.filter(provider_id=service_id)
        .select_related("service")
        .order_by("service__name", "kind")
    )
    return [
        DependencyRow(d.service.slug, d.service.name, d.kind, d.get_kind_display(), d.source)
        for d in rows
    ]


def service_access_countries(*, service_id: int) -> list[tuple[str, str, str]]:
    """(country, its name, source) where the service is an access network."""
    rows = AccessProvider.objects.filter(service_id=service_id).order_by("country")
    return [(a.country, country_name(a.country), a.source) for a in rows]


# ---------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class EventMember:
    incident_id: int
    service_slug: str
    service_name: str
    level: str
    started_at: datetime
    ended_at: datetime | None
    is_cause: bool

    @property
    def level_label(self) -> str:
        return str(Level(self.level).label)


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    country: str
    country_name: str
    started_at: datetime
    ended_at: datetime | None
    cause: str
    cause_label: str
    cause_slug: str
    cause_name: str
    cause_has_problems: bool
    active_members: int
    peak_members: int
    headline: str
    cause_text: str
    members: list[EventMember]

    @property
    def scope(self) -> str:
        return self.country_name or _("Worldwide")


def event_cause_text(*, cause: str, provider: str, has_problems: bool, place: str) -> str:
    """The likely cause in words: "likely Cloudflare, which has problems too"."""
    if cause == CauseKind.PROVIDER and provider:
        if has_problems:
            return _("likely %(provider)s, which has problems too") % {"provider": provider}
        return _("likely %(provider)s, which most of them rely on") % {"provider": provider}
    if cause == CauseKind.ACCESS and provider:
        return _("likely %(provider)s, a network there that has problems too") % {
            "provider": provider
        }
    if cause == CauseKind.REGION and place:
        return _("likely a network or power problem in %(place)s") % {"place": place}
    return _("cause unknown")


def _event_row(event: Event, members: list[Incident]) -> EventRow:
    place = country_name(event.country) if event.country else ""
    provider = event.cause_service
    cause_text = event_cause_text(
        cause=event.cause,
        provider=provider.name if provider else "",
        has_problems=event.cause_has_problems,
        place=place,
    )
    # Whole sentences in the catalogue, one per case (web/wording.py does the same).
    utc = _("%(time)s UTC")
    words: dict[str, object] = {"place": place, "time": utc % {"time": f"{event.started_at:%H:%M}"}}
    if event.ended_at is None:
        n = words["count"] = event.active_members
        if place:
            headline = ngettext(
                "%(count)s service with problems in %(place)s since %(time)s",
                "%(count)s services with problems in %(place)s since %(time)s",
                n,
            )
        else:
            headline = ngettext(
                "%(count)s service with problems worldwide since %(time)s",
                "%(count)s services with problems worldwide since %(time)s",
                n,
            )
    else:
        n = words["count"] = event.peak_members
        words["start"] = words["time"]
        words["end"] = utc % {"time": f"{event.ended_at:%H:%M}"}
        if place:
            headline = ngettext(
                "%(count)s service had problems in %(place)s from %(start)s to %(end)s",
                "%(count)s services had problems in %(place)s from %(start)s to %(end)s",
                n,
            )
        else:
            headline = ngettext(
                "%(count)s service had problems worldwide from %(start)s to %(end)s",
                "%(count)s services had problems worldwide from %(start)s to %(end)s",
                n,
            )
    headline = headline % words
    rows = [
        EventMember(
            incident_id=m.id,
            service_slug=m.service.slug,
            service_name=m.service.name,
            level=m.level,
            started_at=m.started_at,
            ended_at=m.ended_at,
            is_cause=provider is not None and m.service_id == provider.id,
        )
        for m in members
    ]
    # The cause first, then open members by start, then the resolved ones.
    rows.sort(key=lambda r: (not r.is_cause, r.ended_at is not None, r.started_at, r.incident_id))
    return EventRow(
        id=event.id,
        country=event.country,
        country_name=place,
        started_at=event.started_at,
        ended_at=event.ended_at,
        cause=event.cause,
        cause_label=str(CauseKind(event.cause).label),
        cause_slug=provider.slug if provider else "",
        cause_name=provider.name if provider else "",
        cause_has_problems=event.cause_has_problems,
        active_members=event.active_members,
        peak_members=event.peak_members,
        headline=headline,
        cause_text=cause_text,
        members=rows,
    )


def _event_rows(events: Iterable[Event]) -> list[EventRow]:
    events = list(events)
    members: dict[int, list[Incident]] = {e.id: [] for e in events}
    for incident in Incident.objects.filter(event_id__in=list(members)).select_related("service"):
        if incident.event_id is not None:
            members[incident.event_id].append(incident)
    return [_event_row(e, members[e.id]) for e in events]


def events_open(*, service_id: int | None = None) -> list[EventRow]:
    """Open events, newest first; with `service_id`, those the service has an open incident
    in."""
    qs = Event.objects.filter(ended_at=None).select_related("cause_service")
    if service_id is not None:
        qs = qs.filter(members__service_id=service_id, members__ended_at=None).distinct()
    return _event_rows(qs.order_by("-started_at", "-id")[:50])


def event_list(*, status: str | None = None, limit: int = 50) -> list[EventRow]:
    qs = Event.objects.select_related("cause_service")
    if status == "open":
        qs = qs.filter(ended_at=None)
    elif status == "ended":
        qs = qs.exclude(ended_at=None)
    return _event_rows(qs.order_by("-started_at", "-id")[:limit])


def event_get(*, event_id: int) -> EventRow | None:
    event = Event.objects.select_related("cause_service").filter(id=event_id).first()
    return _event_rows([event])[0] if event is not None else None


def event_row_json(row: EventRow, *, url: str) -> dict[str, object]:
    """An event as GET /api/v1/events/{id} and its notifications describe it."""

    def iso(t: datetime | None) -> str | None:
        return t.astimezone(UTC).isoformat().replace("+00:00", "Z") if t else None

    return {
        "id": row.id,
        "url": url,
        "country": row.country,
        "status": "open" if row.ended_at is None else "ended",
        "started_at": iso(row.started_at),
        "ended_at": iso(row.ended_at),
        "headline": row.headline,
        "cause": {
            "kind": row.cause,
            "service": row.cause_slug or None,
            "service_name": row.cause_name or None,
            "has_problems": row.cause_has_problems,
            "text": row.cause_text,
        },
        "active_members": row.active_members,
        "peak_members": row.peak_members,
        "members": [
            {
                "outage": m.incident_id,
                "service": m.service_slug,
                "service_name": m.service_name,
                "level": m.level,
                "started_at": iso(m.started_at),
                "ended_at": iso(m.ended_at),
                "is_cause": m.is_cause,
            }
            for m in row.members
        ],
    }


def subscriptions_for_event(*, event: Event) -> list[Subscription]:
    """Active subscriptions that want this event: one of its members' services (or all
    services), and its country (or all countries; a worldwide event is in every country)."""
    services = set(Incident.objects.filter(event=event).values_list("service_id", flat=True))
    qs = (
        Subscription.objects.filter(active=True)
        .filter(Q(services=None) | Q(services__in=services))
        .distinct()
        .order_by("id")
    )
    return [s for s in qs if not s.countries or not event.country or event.country in s.countries]


# ------------------------------------------------------------------------ official status

OFFICIAL_WORDS = {
    "none": gettext_lazy("no problems"),
    "minor": gettext_lazy("minor problems"),
    "major": gettext_lazy("a major outage"),
    "critical": gettext_lazy("a critical outage"),
    "maintenance": gettext_lazy("maintenance"),
}


@dataclass(frozen=True, slots=True)
class OfficialLag:
    """How long the official page took to acknowledge the service's incidents: from our
    incident's start to the page's first matching post (negative: the page was first)."""

    acknowledged: int
    unacknowledged: int  # outage incidents since the page was first read, never matched
    median_minutes: float | None
    worst_minutes: float | None


@dataclass(frozen=True, slots=True)
class OfficialRow:
    url: str
    indicator: str  # "" before a good answer
    description: str
    components: list[dict[str, str]]
    since: datetime | None
    checked_at: datetime | None
    good_at: datetime | None
    last_error: str
    sentence: str
    lag: OfficialLag


def official_sentence(
    *,
    indicator: str,
    components: list[dict[str, str]],
    since: datetime | None,
    failing: bool = False,
) -> str:
    """ "The official status page reports a major outage of Uploads since 14:20 UTC"."""
    if not indicator:
        if failing:
            return _("The official status page could not be read")
        return _("The official status page has not been read yet")
    words: dict[str, object] = {"words": OFFICIAL_WORDS.get(indicator, indicator)}
    if indicator != "none" and components:
        names = [c["name"] for c in components[:3]]
        more = len(components) - len(names)
        listed = pgettext("list separator", ", ").join(names)
        words["components"] = (
            _("%(names)s and %(count)s more") % {"names": listed, "count": more}
            if more > 0
            else listed
        )
    if indicator != "none" and since is not None:
        words["time"] = _("%(time)s UTC") % {"time": f"{since:%H:%M}"}
    # Whole sentences in the catalogue, one per case.
    sentence = {
        (False, False): _("The official status page reports %(words)s"),
        (True, False): _("The official status page reports %(words)s of %(components)s"),
        (False, True): _("The official status page reports %(words)s since %(time)s"),
        (True, True): _(
            "The official status page reports %(words)s of %(components)s since %(time)s"
        ),
    }[("components" in words, "time" in words)]
    return sentence % words


def official_lag(*, service_id: int, watched_since: datetime | None) -> OfficialLag:
    rows = Incident.objects.filter(service_id=service_id, max_level=Level.OUTAGE)
    lags = sorted(
        (ack - start).total_seconds() / 60
        for start, ack in rows.exclude(official_acknowledged_at=None).values_list(
            "started_at", "official_acknowledged_at"
        )
        if ack is not None
    )
    missed = 0
    if watched_since is not None:
        missed = (
            rows.filter(official_acknowledged_at=None, started_at__gte=watched_since)
            .exclude(ended_at=None)
            .count()
        )
    median = None
    if lags:
        mid = len(lags) // 2
        median = lags[mid] if len(lags) % 2 else (lags[mid - 1] + lags[mid]) / 2
    return OfficialLag(
        acknowledged=len(lags),
        unacknowledged=missed,
        median_minutes=round(median, 1) if median is not None else None,
        worst_minutes=round(lags[-1], 1) if lags else None,
    )


def official_status(*, service_id: int) -> OfficialRow | None:
    """What the service's official status page said at its last good answer, or None if it
    has none."""
    page = StatusPage.objects.filter(service_id=service_id).first()
    if page is None:
        return None
    return OfficialRow(
        url=page.page_url,
        indicator=page.indicator,
        description=page.description,
        components=list(page.components),
        since=page.official_since,
        checked_at=page.checked_at,
        good_at=page.good_at,
        last_error=page.last_error,
        sentence=official_sentence(
            indicator=page.indicator,
            components=list(page.components),
            since=page.official_since,
            failing=bool(page.last_error),
        ),
        lag=official_lag(
            service_id=service_id, watched_since=_watched(page) if page.good_at else None
        ),
    )


def _watched(page: StatusPage) -> datetime | None:
    """Since when the page's history covers our incidents: its oldest incident kept."""
    times = [parse_iso(i.get("created_at")) for i in page.incidents]
    known = [t for t in times if t is not None]
    return min(known) if known else page.good_at


def parse_iso(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
