"""The demo's background job (the live trickle of simulated reports) and the writes behind the
demo traffic."""

import logging
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pandas as pd
from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from demo import simulation
from outages.models import Service
from reports.models import Report
from reports.services import report_rows_insert

log = logging.getLogger(__name__)

TRICKLE_LOCK_KEY = "demo:trickle:lock"
TRICKLE_WATERMARK_KEY = "demo:trickle:watermark"
TRICKLE_BURST_KEY = "demo:trickle:burst:{spec}"
# The beat interval: the window of the very first run, when nothing says where to start.
TRICKLE_FIRST_WINDOW = timedelta(seconds=30)
# After the worker was down the trickle backfills at most this much: reports stamped further
# back than the rollup's lateness allowance would never be counted.
TRICKLE_MAX_CATCHUP = timedelta(minutes=4)
TRICKLE_LOCK_SECONDS = 60  # outlives a run that hit the task time limit, then frees itself
TRICKLE_STATE_SECONDS = 7 * 24 * 3600


@shared_task(ignore_result=True)
def simulate_trickle() -> int:
    """Store the simulated reports of the time since the previous run (demo sites only).

    One run at a time holds the lock; the window starts where the last run stopped (the cache
    watermark) or, when the cache has forgotten, at the newest stored report, so reruns and a
    second worker add next to nothing twice.
    """
    if not settings.DEMO_TRICKLE:
        return 0
    token = uuid4().hex
    if not cache.add(TRICKLE_LOCK_KEY, token, timeout=TRICKLE_LOCK_SECONDS):
        return 0
    try:
        now = timezone.now()
        start = _trickle_window_start(now=now)
        seconds = (now - start).total_seconds()
        if seconds < 1:
            return 0
        # A fresh seed per window: the same seed would repeat one random draw every 30 s.
        frame = simulation.trickle_reports(
            now=now, seconds=seconds, seed=int(now.timestamp()), bursts=_live_bursts(now=now)
        )
        created = demo_reports_insert(frame=frame)
        cache.set(TRICKLE_WATERMARK_KEY, now.timestamp(), timeout=TRICKLE_STATE_SECONDS)
        return created
    finally:
        if cache.get(TRICKLE_LOCK_KEY) == token:
            cache.delete(TRICKLE_LOCK_KEY)


def _trickle_window_start(*, now: datetime) -> datetime:
    marks: list[datetime] = []
    stamp = cache.get(TRICKLE_WATERMARK_KEY)
    if stamp is not None:
        marks.append(datetime.fromtimestamp(float(stamp), tz=UTC))
    latest = Report.objects.filter(created_at__lte=now).aggregate(latest=Max("created_at"))
    if latest["latest"] is not None:
        marks.append(latest["latest"])
    if not marks:
        return now - TRICKLE_FIRST_WINDOW
    lateness = timedelta(seconds=getattr(settings, "ROLLUP_LATENESS", 300))
    catchup = max(TRICKLE_FIRST_WINDOW, min(TRICKLE_MAX_CATCHUP, lateness - TRICKLE_FIRST_WINDOW))
    return min(now, max(now - catchup, *marks))


def _live_bursts(*, now: datetime) -> list[simulation.InjectedOutage]:
    """The bursts configured in DEMO_TRICKLE_BURST, which start when a worker first sees them."""
    spec = str(getattr(settings, "DEMO_TRICKLE_BURST", "") or "").strip()
    if not spec:
        return []
    key = TRICKLE_BURST_KEY.format(spec=spec.lower())
    cache.add(key, now.timestamp(), timeout=TRICKLE_STATE_SECONDS)
    started = cache.get(key, now.timestamp())
    start = datetime.fromtimestamp(float(started), tz=UTC)
    bursts = []
    # Several, comma-separated, start together: a provider's outage and its customers'.
    for part in spec.split(","):
        try:
            burst = simulation.parse_burst(part, start=start)
        except ValueError as exc:
            # A typo in a demo knob should not stop the trickle itself.
            log.warning("ignoring %r of DEMO_TRICKLE_BURST: %s", part, exc)
            continue
        if burst is not None:
            bursts.append(burst)
    return bursts


def demo_reports_insert(*, frame: pd.DataFrame) -> int:
    """Store simulated reports (columns as demo.simulation.COLUMNS). Rows of services not in the
    database are dropped. Returns the number stored."""
    if frame.empty:
        return 0
    slugs = frame["service_slug"].unique().tolist()
    ids = dict(Service.objects.filter(slug__in=slugs).values_list("slug", "id"))
    frame = frame[frame["service_slug"].isin(list(ids))]
    rows = list(
        zip(
            frame["service_slug"].map(ids).tolist(),
            frame["problem"].tolist(),
            frame["country"].tolist(),
            frame["subdivision"].tolist(),
            frame["comment"].tolist(),
            frame["created_at"].dt.to_pydatetime().tolist(),
            frame["source"].tolist(),
            frame["client_key"].tolist(),
            strict=True,
        )
    )
    return report_rows_insert(rows=rows)


def demo_reports_delete_all() -> int:
    """Empty the report table before reseeding a demo site. Returns the number deleted."""
    with transaction.atomic():
        deleted, _ = Report.objects.all().delete()
    return deleted
