"""A service's status as both its page and GET /api/v1/services/<slug> show it, assembled once."""

from dataclasses import dataclass
from datetime import datetime

from analytics.selectors.windows import report_counts
from outages.selectors import IncidentRow, ServiceRow, incidents_open
from web.wording import headline


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    row: ServiceRow
    open_incidents: list[IncidentRow]
    headline: str
    last_15m: int
    last_24h: int


def service_summary(*, row: ServiceRow, now: datetime) -> ServiceSummary:
    incidents = incidents_open(service_id=row.id)
    last_15m, last_24h = report_counts(service_id=row.id, now=now)
    return ServiceSummary(
        row=row,
        open_incidents=incidents,
        headline=headline(service=row, incidents=incidents),
        last_15m=last_15m,
        last_24h=last_24h,
    )
