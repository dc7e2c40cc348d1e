import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.db import connection

from analytics.rollup import rollup_run
from analytics.services import baseline_run, detection_run
from outages.models import Incident, ServiceStatus
from reports.models import Report

NOW = datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)


def steady_history(service, *, hours=30, per_minute=4.0, seed=1, end=NOW):
    """Reports at a steady rate (Poisson) up to `end`, spread over US, GB and DE."""
    rng = np.random.default_rng(seed)
    start = end.replace(second=0, microsecond=0) - timedelta(hours=hours)
    rows = []
    for m in range(hours * 60):
        minute = start + timedelta(minutes=m)
        for i in range(rng.poisson(per_minute)):
            rows.append(
                Report(
                    service=service,
                    problem=service.problems[i % 2],
                    country=("US", "GB", "DE", "US")[i % 4],
                    created_at=minute + timedelta(seconds=int(rng.integers(0, 60))),
                    source="api",
                    client_key=f"h{m}-{i}",
                )
            )
    Report.objects.bulk_create(rows, batch_size=5000)


def burst(service, *, minutes=12, per_minute=60, country="BR", problem="upload", end=NOW):
    rows = []
    first = end.replace(second=0, microsecond=0) - timedelta(minutes=minutes)
    for m in range(minutes):
        for i in range(per_minute):
            rows.append(
                Report(
                    service=service,
                    problem=problem if i % 5 else "login",
                    country=country,
                    subdivision="BR-SP" if i % 3 == 0 else "",
                    created_at=first + timedelta(minutes=m, seconds=i % 60),
                    source="api",
                    client_key=f"b{m}-{i}",
                )
            )
    Report.objects.bulk_create(rows, batch_size=5000)


def run(at):
    rollup_run(now=at)
    baseline_run(now=at)
    return detection_run(now=at)


@pytest.mark.django_db
def test_a_burst_opens_an_incident_with_its_region_and_problem(tiktok, gmail):
    steady_history(tiktok)
    steady_history(gmail, seed=2)
    burst(tiktok)
    result = run(NOW)
    assert result.opened >= 1
    incident = Incident.objects.get(service=tiktok, country="", ended_at=None)
    assert incident.level == "outage"
    # It began when the reports began to rise: the burst's first minute, not the minute the
    # test fired.
    burst_began = NOW.replace(second=0) - timedelta(minutes=12)
    assert incident.started_at == burst_began
    assert incident.regions[0]["country"] == "BR"
    assert incident.regions[0]["subdivision"] == ""
    assert incident.regions[0]["excess"] > 300
    assert any(r["subdivision"] == "BR-SP" for r in incident.regions)
    assert incident.problems[0]["problem"] == "upload"
    assert 0.6 < incident.problems[0]["share"] < 0.9
    assert incident.peak_reports > incident.peak_expected * 5
    assert not Incident.objects.filter(service=gmail).exists()
    status = {s.service.slug: s for s in ServiceStatus.objects.select_related("service")}
    assert status["tiktok"].level == "outage"
    assert status["tiktok"].since == burst_began
    assert status["tiktok"].current > status["tiktok"].expected * 5
    assert status["gmail"].level == "ok"


@pytest.mark.django_db
def test_the_incident_is_updated_then_resolved_when_reports_stop(tiktok):
    steady_history(tiktok)
    burst(tiktok)
    run(NOW)
    first = Incident.objects.get(service=tiktok, country="")
    # Reports keep coming at the usual rate and mix, the burst is over.
    later = NOW + timedelta(minutes=45)
    rows = [
        Report(
            service=tiktok,
            problem="playback",
            country=("US", "GB", "DE", "US")[k % 4],
            created_at=NOW + timedelta(seconds=15 * k),
            source="api",
            client_key=f"after{k}",
        )
        for k in range(45 * 4)
    ]
    Report.objects.bulk_create(rows)
    run(later)
    incident = Incident.objects.get(id=first.id)
    assert incident.ended_at is not None
    assert NOW < incident.ended_at <= later
    assert incident.max_level == "outage"
    assert ServiceStatus.objects.get(service=tiktok).level == "ok"
    assert Incident.objects.filter(ended_at=None).count() == 0


@pytest.mark.django_db
def test_a_quiet_service_does_not_alarm_on_a_few_reports(gmail):
    burst(gmail, minutes=3, per_minute=1, problem="email", country="US")
    run(NOW)
    assert not Incident.objects.exists()
    assert ServiceStatus.objects.get(service=gmail).level == "ok"


@pytest.mark.django_db
def test_a_rerun_of_the_same_minute_changes_nothing(tiktok):
    steady_history(tiktok)
    burst(tiktok)
    run(NOW)
    fields = [f.name for f in Incident._meta.fields if f.name != "updated_at"]
    before = list(Incident.objects.values(*fields))
    run(NOW)
    after = list(Incident.objects.values(*fields))
    assert before == after


@pytest.mark.django_db(transaction=True)
def test_concurrent_detection_never_opens_two_incidents(tiktok):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    steady_history(tiktok)
    burst(tiktok)
    rollup_run(now=NOW)
    baseline_run(now=NOW)
    errors = []
    barrier = threading.Barrier(4)

    def worker():
        try:
            barrier.wait()
            detection_run(now=NOW)
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Incident.objects.filter(service=tiktok, country="", ended_at=None).count() == 1


@pytest.mark.django_db
def test_the_database_refuses_a_second_open_incident(tiktok):
    from django.db import IntegrityError, transaction

    fields = dict(
        service=tiktok,
        country="",
        level="outage",
        max_level="outage",
        started_at=NOW,
        peak_at=NOW,
        peak_reports=10,
        peak_expected=1,
    )
    Incident.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.create(**fields)
    Incident.objects.create(**{**fields, "country": "BR"})
    Incident.objects.create(**{**fields, "ended_at": NOW})


@pytest.mark.django_db
def test_backfill_records_a_past_incident_once(tiktok):
    from analytics.services import incidents_backfill

    steady_history(tiktok, hours=40)
    burst(tiktok, minutes=20, end=NOW - timedelta(hours=5))
    rollup_run(now=NOW)
    baseline_run(now=NOW)
    assert incidents_backfill(since=NOW - timedelta(hours=40), until=NOW) >= 1
    incident = Incident.objects.get(service=tiktok, country="")
    start = NOW.replace(second=0) - timedelta(hours=5, minutes=20)
    assert start <= incident.started_at <= start + timedelta(minutes=5)
    assert incident.ended_at is not None
    assert start + timedelta(minutes=20) < incident.ended_at < start + timedelta(minutes=70)
    assert incident.max_level == "outage"
    assert incident.regions[0]["country"] == "BR"
    assert incidents_backfill(since=NOW - timedelta(hours=40), until=NOW) == 0


@pytest.mark.django_db
def test_a_new_service_has_no_imagined_silent_history(tiktok):
    # Only the last 30 hours exist: weeks before that are unknown, not zero reports, so the
    # stored baseline follows the recent level instead of collapsing to nothing.
    from analytics.models import Baseline

    steady_history(tiktok, per_minute=4.0)
    rollup_run(now=NOW)
    baseline_run(now=NOW)
    latest = Baseline.objects.filter(service=tiktok, country="").order_by("-hour").first()
    assert latest is not None
    assert 2.5 < latest.expected < 6.0


@pytest.mark.django_db
def test_stored_baselines_are_the_pure_functions_output_and_a_rerun_changes_nothing(tiktok):
    import pandas as pd

    from analytics.baseline import expected as baseline_expected
    from analytics.models import Baseline
    from analytics.selectors.detection import hour_series, to_wide
    from analytics.services import BASELINE_STORE_SPAN, DETECTION_HISTORY
    from common.time import floor_hour

    steady_history(tiktok, per_minute=4.0)
    burst(tiktok)
    rollup_run(now=NOW)
    written = baseline_run(now=NOW)
    worldwide = Baseline.objects.filter(service=tiktok, country="")
    stored = {(b.country, b.hour): b.expected for b in worldwide}
    current = floor_hour(NOW)
    since = current - DETECTION_HISTORY - BASELINE_STORE_SPAN
    index = pd.date_range(pd.Timestamp(since), pd.Timestamp(current), freq="1h")
    rows = hour_series(since=since, until=current + timedelta(hours=1), countries=set())
    wide = baseline_expected(to_wide(rows, index), bucket=pd.Timedelta(hours=1))
    want = {
        ("", pd.Timestamp(str(hour)).to_pydatetime()): value / 60.0
        for hour, value in wide[str(tiktok.id)]
        .loc[pd.Timestamp(current - BASELINE_STORE_SPAN) :]
        .items()
        if pd.notna(value)
    }
    # Worldwide here; the busy countries' series are written beside it.
    assert written > len(want) > 24
    assert stored.keys() == want.keys()
    assert all(abs(stored[k] - want[k]) < 1e-9 for k in want)
    later = NOW + timedelta(minutes=5)
    assert baseline_run(now=later) == written
    assert {(b.country, b.hour): b.expected for b in worldwide} == stored
    if connection.vendor == "postgresql":
        # Unchanged values are not rewritten: their computed_at stays that of the first run.
        assert not Baseline.objects.filter(service=tiktok, computed_at=later).exists()


@pytest.mark.django_db
def test_the_pass_groups_a_provider_and_its_customer_into_one_event(tiktok, gmail):
    from outages.models import Dependency, Event

    # TikTok (as a provider, for the test) and Gmail, which runs on it, burst together.
    Dependency.objects.create(
        service=gmail, provider=tiktok, kind="hosting", source="https://example.org/fact"
    )
    steady_history(tiktok)
    steady_history(gmail, seed=2)
    burst(tiktok)
    burst(gmail, minutes=10, problem="email")
    run(NOW)
    event = Event.objects.get()
    members = set(event.members.values_list("service__slug", flat=True))
    assert members == {"tiktok", "gmail"}
    assert (event.country, event.cause, event.cause_service_id) == ("", "provider", tiktok.id)
    assert event.cause_has_problems and event.active_members == 2
    assert event.started_at == NOW.replace(second=0) - timedelta(minutes=12)
