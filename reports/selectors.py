from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from common.regions import country_name, subdivision_name
from outages.models import Incident
from reports.models import Recovery, Report


def report_count_since(
    *, service_id: int, since: datetime, exclude_client_keys: tuple[str, ...] = ()
) -> int:
    """Counted reports of a service since `since`, leaving out the given clients' own."""
    qs = Report.objects.filter(service_id=service_id, created_at__gte=since, counted=True)
    if exclude_client_keys:
        qs = qs.exclude(client_key__in=exclude_client_keys)
    return qs.count()


def report_last_at(*, client_key: str, service_id: int, since: datetime) -> datetime | None:
    """When the client last reported the service since `since`, counted or not: the dedupe's
    memory when the cache has none (index report_client_service_idx, one row read)."""
    return (
        Report.objects.filter(client_key=client_key, service_id=service_id, created_at__gte=since)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def report_recent_comments(*, service_id: int, limit: int = 10) -> list[Report]:
    # Uncounted reports (over an address's cap) keep their comments out of the page too.
    return list(
        Report.objects.filter(service_id=service_id, counted=True)
        .exclude(comment="")
        .order_by("-created_at")[:limit]
    )


def recovery_last_at(*, client_key: str, service_id: int, since: datetime) -> datetime | None:
    """When the client last said the service works again, since `since` (its dedupe)."""
    return (
        Recovery.objects.filter(client_key=client_key, service_id=service_id, created_at__gte=since)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def recovery_counts(
    *, service_id: int, since: datetime, country: str = "", until: datetime | None = None
) -> dict[str, int]:
    """Counted recoveries of a service since `since` (and before `until`) by country (one
    country's if given)."""
    qs = Recovery.objects.filter(service_id=service_id, created_at__gte=since, counted=True)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    if country:
        qs = qs.filter(country=country)
    rows = qs.values("country").annotate(n=Count("id")).order_by("-n", "country")
    return {row["country"]: row["n"] for row in rows}


def report_count_in(*, service_id: int, since: datetime, country: str = "") -> int:
    """Counted problem reports of a service since `since` (in one country if given)."""
    qs = Report.objects.filter(service_id=service_id, created_at__gte=since, counted=True)
    if country:
        qs = qs.filter(country=country)
    return qs.count()


@dataclass(frozen=True, slots=True)
class RecoveryService:
    slug: str
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class RecoveryRegion:
    """How many people in one region say it works again, during the incidents open now."""

    code: str  # ISO 3166-1 alpha-2, or ISO 3166-2 at level "subdivision"
    count: int
    level: str  # "country" or "subdivision"
    services: tuple[RecoveryService, ...]  # most first

    @property
    def name(self) -> str:
        # At display time, in the page's language (the rows serve every language).
        return country_name(self.code) if self.level == "country" else subdivision_name(self.code)


def recoveries_open(*, service_id: int | None = None, country: str = "") -> list[RecoveryRegion]:
    """Where people say it works again, for the incidents open now (of one service if given):
    counted recoveries since each incident began and within its scope (a worldwide incident's
    in every country, a country incident's in that country), per country, or, given a country,
    per subdivision of it. Most first, ties by code.

    A recovery inside two open incidents' scopes (a worldwide one and a country's) is counted
    once: the scopes are one condition."""
    open_ = Incident.objects.filter(ended_at=None)
    if service_id is not None:
        open_ = open_.filter(service_id=service_id)
    scopes = Q()
    for incident_service, incident_country, started_at in open_.values_list(
        "service_id", "country", "started_at"
    ):
        scope = Q(service_id=incident_service, created_at__gte=started_at)
        if incident_country:
            scope &= Q(country=incident_country)
        scopes |= scope
    if not scopes:
        return []
    qs = Recovery.objects.filter(scopes, counted=True)
    key = "country"
    if country:
        key = "subdivision"
        qs = qs.filter(country=country).exclude(subdivision="")
    rows = qs.values(key, "service__slug", "service__name").annotate(n=Count("id"))
    by_region: dict[str, list[RecoveryService]] = defaultdict(list)
    for row in rows:
        by_region[row[key]].append(
            RecoveryService(slug=row["service__slug"], name=row["service__name"], count=row["n"])
        )
    regions = [
        RecoveryRegion(
            code=code,
            count=sum(s.count for s in services),
            level=key,
            services=tuple(sorted(services, key=lambda s: (-s.count, s.slug))),
        )
        for code, services in by_region.items()
    ]
    return sorted(regions, key=lambda r: (-r.count, r.code))
