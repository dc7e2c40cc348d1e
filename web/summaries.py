"""A service's status as both its page and GET /api/v1/services/<slug> show it, assembled once,
and whether the levels shown are current at all."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from analytics.selectors.windows import report_counts
from common.cache import detection_pass_at
from outages.selectors import IncidentRow, ServiceRow, incidents_open, status_written_last
from web.wording import delayed_text, headline


def delayed_since(*, now: datetime) -> datetime | None:
    """The time of the last detection pass when it is older than DETECTION_MAX_AGE: levels and
    their counts stopped there (a stopped worker, a broker down), and saying "no problems"
    would be a guess. None while fresh, and before the first pass ever (nothing to date).

    The pass's mark in the shared cache answers without a query; without one (Redis flushed or
    down, or a cache per process as in the embedded default) the statuses' own time does."""
    last = detection_pass_at() or status_written_last()
    if last is None or now - last <= timedelta(seconds=settings.DETECTION_MAX_AGE):
        return None
    return last


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    row: ServiceRow
    open_incidents: list[IncidentRow]
    headline: str
    last_15m: int
    last_24h: int
    delayed_since: datetime | None


def service_summary(*, row: ServiceRow, now: datetime) -> ServiceSummary:
    incidents = incidents_open(service_id=row.id)
    last_15m, last_24h = report_counts(service_id=row.id, now=now)
    delayed = delayed_since(now=now)
    return ServiceSummary(
        row=row,
        open_incidents=incidents,
        # A stale level is no status: the sentence says how old the data is instead.
        headline=delayed_text(since=delayed, now=now) or headline(service=row, incidents=incidents),
        last_15m=last_15m,
        last_24h=last_24h,
        delayed_since=delayed,
    )
