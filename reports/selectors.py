from datetime import datetime

from reports.models import Report


def report_count_since(
    *, service_id: int, since: datetime, exclude_client_key: str | None = None
) -> int:
    qs = Report.objects.filter(service_id=service_id, created_at__gte=since)
    if exclude_client_key:
        qs = qs.exclude(client_key=exclude_client_key)
    return qs.count()


def report_recent_comments(*, service_id: int, limit: int = 10) -> list[Report]:
    return list(
        Report.objects.filter(service_id=service_id)
        .exclude(comment="")
        .order_by("-created_at")[:limit]
    )
