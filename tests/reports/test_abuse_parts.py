"""The parts of the abuse controls: the unit an address is counted in, the claims' table, and
the index the dedupe reads to check a new claim against the stored reports."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reports.abuse import address_of
from reports.selectors import report_last_at
from reports.services import report_rows_insert


def test_address_of_groups_ipv6_by_64_and_leaves_ipv4_alone():
    assert address_of("203.0.113.7") == "203.0.113.7"
    assert address_of("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_of("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_of("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_of("not an address") == "not an address"


@pytest.mark.django_db
def test_the_claims_table_writes_no_wal():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's table kinds")
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = 'reports_claim'")
        assert cursor.fetchone() == ("u",)  # unlogged


@pytest.mark.django_db
def test_the_dedupe_lookup_reads_one_index(tiktok):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plan")
    now = timezone.now()
    rows = [(tiktok.id, "login", "US", "", "", now, "web", f"{i:032x}") for i in range(20_000)]
    report_rows_insert(rows=rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE reports_report")
    with CaptureQueriesContext(connection) as queries:
        assert report_last_at(client_key=f"{7:032x}", service_id=tiktok.id, since=now)
    (query,) = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {query['sql']}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "report_client_service_idx" in plan, plan
