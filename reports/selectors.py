from datetime import datetime

from django.db.models import Count

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
