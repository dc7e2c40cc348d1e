"""A small, hand-built picture of the rollup and detection tables for page tests: TikTok in
an outage in Brazil and the US since 20 minutes ago, Gmail quiet."""

from datetime import datetime, timedelta

from django.utils import timezone

from analytics.models import Baseline, MinuteCount, RegionHour
from analytics.rollup import totals_resum
from common.time import floor_minute
from outages.models import Incident, Level, Service, ServiceStatus


def build(*, tiktok: Service, gmail: Service, now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    minute = floor_minute(now)
    hour = minute.replace(minute=0)
    # A week of usual traffic: TikTok 60% US, 40% BR; Gmail all US.
    hours = []
    for h in range(1, 24 * 7):
        t = hour - timedelta(hours=h)
        hours += [
            RegionHour(service=tiktok, country="US", hour=t, count=6),
            RegionHour(service=tiktok, country="BR", hour=t, count=4),
            RegionHour(service=gmail, country="US", hour=t, count=3),
        ]
    RegionHour.objects.bulk_create(hours)
    baselines = []
    for h in range(-1, 30):
        t = hour - timedelta(hours=h)
        baselines += [
            Baseline(service=tiktok, country="", hour=t, expected=10 / 60, computed_at=now),
            Baseline(service=gmail, country="", hour=t, expected=3 / 60, computed_at=now),
        ]
    Baseline.objects.bulk_create(baselines)
    # The last 20 minutes: a spike of playback and login reports from Brazil and the US.
    minutes = []
    for m in range(20):
        t = minute - timedelta(minutes=m)
        minutes += [
            MinuteCount(
                service=tiktok,
                country="BR",
                subdivision="BR-SP",
                problem="playback",
                minute=t,
                count=3,
            ),
            MinuteCount(
                service=tiktok,
                country="US",
                subdivision="US-CA",
                problem="login",
                minute=t,
                count=1,
            ),
        ]
    minutes.append(
        MinuteCount(
            service=gmail,
            country="US",
            subdivision="",
            problem="email",
            minute=minute - timedelta(minutes=3),
            count=1,
        )
    )
    MinuteCount.objects.bulk_create(minutes)
    # Every total summed from these, as the rollup keeps them (the week of hour rows has no
    # minute rows under it: its hour totals are summed from the region hours above).
    totals_resum(since=hour - timedelta(days=7), until=minute + timedelta(minutes=1))
    since = minute - timedelta(minutes=20)
    ServiceStatus.objects.create(
        service=tiktok,
        level=Level.OUTAGE,
        since=since,
        current=60,
        expected=2.5,
        threshold=4,
        updated_at=now,
    )
    ServiceStatus.objects.create(
        service=gmail, level=Level.OK, current=1, expected=0.75, threshold=2, updated_at=now
    )
    Incident.objects.create(
        service=tiktok,
        country="",
        level=Level.OUTAGE,
        max_level=Level.OUTAGE,
        started_at=since,
        peak_at=minute,
        peak_reports=4,
        peak_expected=0.17,
        regions=[
            {"country": "BR", "subdivision": "", "reports": 60, "expected": 1.3, "excess": 58.7}
        ],
        problems=[{"problem": "playback", "reports": 60, "share": 0.75}],
    )
    Incident.objects.create(
        service=tiktok,
        country="",
        level=Level.OK,
        max_level=Level.OUTAGE,
        started_at=now - timedelta(days=2),
        ended_at=now - timedelta(days=2) + timedelta(minutes=75),
        peak_at=now - timedelta(days=2),
        peak_reports=9,
        peak_expected=0.2,
        regions=[
            {"country": "US", "subdivision": "US-NY", "reports": 30, "expected": 2, "excess": 28}
        ],
        problems=[{"problem": "upload", "reports": 30, "share": 1.0}],
    )
    return now


def event_build(*, tiktok: Service, gmail: Service, now: datetime) -> int:
    """On top of `build`: TikTok and Gmail both behind a provider that has problems too,
    their incidents opening within minutes: one event. Returns its id."""
    from outages.models import Dependency, Event
    from outages.services import events_apply, service_upsert

    provider = service_upsert(
        slug="cloudflare",
        name="Cloudflare",
        category="cloud_dev",
        home_url="https://www.cloudflare.com",
        problems=["website", "connection", "other"],
    )
    for customer in (tiktok, gmail):
        Dependency.objects.create(
            service=customer,
            provider=provider,
            kind="cdn",
            source="https://www.cloudflare.com/case-studies/",
        )
    since = floor_minute(now) - timedelta(minutes=20)
    for service, after in ((provider, 2), (gmail, 4)):
        Incident.objects.create(
            service=service,
            country="",
            level=Level.OUTAGE,
            max_level=Level.OUTAGE,
            started_at=since + timedelta(minutes=after),
            peak_at=floor_minute(now),
            peak_reports=3,
            peak_expected=0.1,
        )
    events_apply(at=floor_minute(now))
    return Event.objects.get(ended_at=None).id


def official_build(*, service: Service, now: datetime) -> None:
    """The service's official status page as a poll left it: a major outage of Uploads that
    it posted 12 minutes after our incident began."""
    from outages.models import StatusPage

    incident = Incident.objects.filter(service=service, ended_at=None).first()
    posted = (incident.started_at if incident else floor_minute(now)) + timedelta(minutes=12)
    StatusPage.objects.create(
        service=service,
        format="statuspage",
        url="https://status.example.org",
        page_url="https://status.example.org",
        indicator="major",
        description="Partial System Outage",
        components=[{"name": "Uploads", "status": "major_outage"}],
        incidents=[],
        official_since=posted,
        checked_at=now,
        good_at=now,
    )
    if incident is not None:
        Incident.objects.filter(id=incident.id).update(official_acknowledged_at=posted)
