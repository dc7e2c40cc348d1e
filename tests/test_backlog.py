"""A partner's backlog sent late: through the batch API, the rollup and the detection pass.

The partner's users make half of TikTok's reports. Its feed stops for an hour and then sends
the hour's reports at once. Counted in the minutes they happened (observed_at), the hour
looks as it always does; counted when they arrived, the same reports are a burst.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics import services as analytics_services
from analytics.models import MinuteCount, RollupRewrite
from analytics.rollup import rollup_run
from analytics.services import baseline_run, detection_run
from common.time import floor_minute
from outages.models import Incident, ServiceStatus
from reports.models import Report
from reports.services import report_create_many
from reports.validation import CleanReport
from tests.analytics.test_detection_run import steady_history

pytestmark = pytest.mark.django_db

COUNTRIES = ("US", "GB", "DE", "US")
# The partner's share: two reports a minute of the four TikTok usually gets.
PARTNER_PER_MINUTE = 2


@pytest.fixture
def quiet_hour(tiktok, gmail):
    """Four reports a minute for 30 hours, then an hour in which the partner's half is
    missing; one detection pass at its end, with nothing wrong."""
    analytics_services._kept_grids.clear()
    now = timezone.now()
    hour_ago = floor_minute(now) - timedelta(hours=1)
    steady_history(tiktok, hours=30, per_minute=4.0, end=hour_ago)
    steady_history(tiktok, hours=1, per_minute=2.0, end=now, seed=5)
    steady_history(gmail, hours=31, per_minute=3.0, end=now, seed=2)
    rollup_run(now=now)
    baseline_run(now=now)
    assert detection_run(now=now).opened == 0
    return hour_ago


def backlog_items(hour_ago):
    return [
        {
            "service": "tiktok",
            "problem": "login" if k % 2 else "playback",
            "country": COUNTRIES[k % 4],
            "client_id": f"user{k}",
            "observed_at": (hour_ago + timedelta(seconds=60 * k / PARTNER_PER_MINUTE)).isoformat(),
        }
        for k in range(60 * PARTNER_PER_MINUTE)
    ]


def two_passes_later():
    """The next two minutes' passes (rollup and detection), as the worker runs them."""
    results = []
    for minutes in (1, 2):
        at = timezone.now() + timedelta(minutes=minutes)
        rollup_run(now=at)
        results.append(detection_run(now=at))
    return results


def test_an_hour_long_backlog_arriving_at_once_opens_no_incident(quiet_hour, token_api, tiktok):
    items = backlog_items(quiet_hour)
    # Sent in two calls, as a partner draining a queue would.
    for half in (items[:60], items[60:]):
        r = token_api.post("/api/v1/reports/batch", {"reports": half}, format="json")
        assert r.status_code == 201, r.content
    results = two_passes_later()
    assert [r.opened for r in results] == [0, 0]
    assert not Incident.objects.exists()
    assert ServiceStatus.objects.get(service=tiktok).level == "ok"
    # Each report is in its own minute, once: the hour holds what was sent directly plus
    # the whole backlog.
    hour = MinuteCount.objects.filter(
        service=tiktok, minute__gte=quiet_hour, minute__lt=quiet_hour + timedelta(hours=1)
    )
    direct = Report.objects.filter(
        service=tiktok,
        received_at=None,
        created_at__gte=quiet_hour,
        created_at__lt=quiet_hour + timedelta(hours=1),
    ).count()
    assert sum(m.count for m in hour) == direct + 120
    assert RollupRewrite.objects.exists()
    # The detection worker's kept grid saw the backlog: a cold read gives the same counts.
    kept = analytics_services._kept_grids["minute"].grid
    analytics_services._kept_grids.clear()
    detection_run(now=timezone.now() + timedelta(minutes=2))
    cold = analytics_services._kept_grids["minute"].grid
    assert (kept.start, kept.counts.shape) == (cold.start, cold.counts.shape)
    assert (kept.counts == cold.counts).all()


def test_the_same_backlog_counted_when_it_arrived_is_a_burst(quiet_hour, tiktok):
    # What the batch API did before observed_at: every report stamped with its arrival, here
    # two calls a minute apart.
    now = timezone.now()
    for minute in (1, 2):
        report_create_many(
            reports=[CleanReport(tiktok.id, "login", "US", "", "")] * 60,
            client_keys=[f"user{k}" for k in range(60)],
            created_at=now + timedelta(minutes=minute - 1),
        )
    at = now + timedelta(minutes=2)
    rollup_run(now=at)
    assert detection_run(now=at).opened >= 1
    incident = Incident.objects.get(service=tiktok, country="")
    assert incident.level == "outage"
