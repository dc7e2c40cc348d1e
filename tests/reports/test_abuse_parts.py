"""The parts of the abuse controls: the in-process fallback's counters, the unit an address
is counted in, and the index the dedupe reads when the cache does not know a client."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reports.abuse import LocalCounters, address_of
from reports.selectors import report_last_at
from reports.services import report_rows_insert


def test_address_of_groups_ipv6_by_64_and_leaves_ipv4_alone():
    assert address_of("203.0.113.7") == "203.0.113.7"
    assert address_of("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_of("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_of("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_of("not an address") == "not an address"


def test_the_fallback_counters_stay_within_their_size():
    counters = LocalCounters(max_keys=100)
    for i in range(1000):
        assert counters.add(f"k{i}", 60)
    assert len(counters) == 100
    # The most recently used survive; the oldest went first.
    assert not counters.add("k999", 60)
    assert counters.add("k0", 60)


def test_the_fallback_counters_count_and_expire():
    counters = LocalCounters(max_keys=10)
    assert [counters.incr("rl", 60) for _ in range(3)] == [1, 2, 3]
    counters.decr("rl")
    assert counters.incr("rl", 60) == 3
    assert counters.add("dd", 0)  # expires at once
    assert counters.add("dd", 60)
    assert not counters.add("dd", 60)
    counters.delete("dd")
    assert counters.add("dd", 60)


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
