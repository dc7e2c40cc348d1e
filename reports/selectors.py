from datetime import datetime

from reports.models import Report


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
