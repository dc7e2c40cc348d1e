"""Sites upgrading with minute counts already stored: the totals tables are filled from them
and the minute key becomes the primary key without losing a row (and back), on PostgreSQL
and on the embedded SQLite default."""

import textwrap
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor

from tests.embedded import run_on_embedded_default

BEFORE = [("analytics", "0006_servicehour")]
LATEST = [("analytics", "0008_minutecount_key_as_pk")]
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def check_upgrade(tiktok_id: int, gmail_id: int) -> None:
    old = migrate(BEFORE)
    minutes = old.get_model("analytics", "MinuteCount")
    hours = old.get_model("analytics", "HourCount")
    rows = [
        (tiktok_id, T0, "BR", "BR-SP", "upload", 3),
        (tiktok_id, T0.replace(minute=59), "BR", "", "login", 2),
        (tiktok_id, T0.replace(hour=13, minute=1), "US", "US-CA", "login", 4),
        (gmail_id, T0, "US", "US-CA", "email", 1),
    ]
    minutes.objects.bulk_create(
        minutes(service_id=s, minute=m, country=c, subdivision=sub, problem=p, count=n)
        for s, m, c, sub, p, n in rows
    )
    by_hour: dict[tuple[int, datetime, str], int] = {}
    for s, m, c, _, _, n in rows:
        key = (s, m.replace(minute=0), c)
        by_hour[key] = by_hour.get(key, 0) + n
    hours.objects.bulk_create(
        hours(service_id=s, hour=h, country=c, count=n) for (s, h, c), n in by_hour.items()
    )

    new = migrate(LATEST)
    minutes = new.get_model("analytics", "MinuteCount")
    assert sorted(
        minutes.objects.values_list(
            "service_id", "minute", "country", "subdivision", "problem", "count"
        )
    ) == sorted(rows)
    region = new.get_model("analytics", "RegionHour")
    assert {
        (r.service_id, r.hour, r.country, r.subdivision): r.count for r in region.objects.all()
    } == {
        (tiktok_id, T0, "BR", "BR-SP"): 3,
        (tiktok_id, T0, "BR", ""): 2,
        (tiktok_id, T0.replace(hour=13), "US", "US-CA"): 4,
        (gmail_id, T0, "US", "US-CA"): 1,
    }
    country_minute = new.get_model("analytics", "CountryMinute")
    assert {(c.minute, c.country): c.count for c in country_minute.objects.all()} == {
        (T0, "BR"): 3,
        (T0, "US"): 1,
        (T0.replace(minute=59), "BR"): 2,
        (T0.replace(hour=13, minute=1), "US"): 4,
    }
    country_hour = new.get_model("analytics", "CountryHour")
    assert {(c.hour, c.country): c.count for c in country_hour.objects.all()} == {
        (T0, "BR"): 5,
        (T0, "US"): 1,
        (T0.replace(hour=13), "US"): 4,
    }
    # The key is the primary key now: a duplicate is refused.
    with pytest.raises(IntegrityError):
        minutes.objects.create(
            service_id=tiktok_id,
            minute=T0,
            country="BR",
            subdivision="BR-SP",
            problem="upload",
            count=1,
        )
    # And back: the earlier layout with the same rows.
    old = migrate([("analytics", "0007_region_country_totals")])
    minutes = old.get_model("analytics", "MinuteCount")
    assert minutes.objects.count() == len(rows)
    assert None not in set(minutes.objects.values_list("id", flat=True))
    migrate(LATEST)


@pytest.mark.django_db(transaction=True)
def test_upgrade_on_postgresql(tiktok, gmail):
    try:
        check_upgrade(tiktok.id, gmail.id)
    finally:
        migrate(LATEST)


@pytest.mark.sqlite
def test_upgrade_on_sqlite(tmp_path):
    script = textwrap.dedent(
        """
        import django
        django.setup()
        from django.core.management import call_command
        from outages.models import Service
        from tests.analytics.test_migrations import check_upgrade
        call_command("migrate", verbosity=0)
        call_command("seed_services", verbosity=0)
        ids = dict(Service.objects.values_list("slug", "id"))
        check_upgrade(ids["tiktok"], ids["gmail"])
        print("ok")
        """
    )
    out = run_on_embedded_default(script, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "ok"
