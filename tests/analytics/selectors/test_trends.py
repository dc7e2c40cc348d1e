"""Chart buckets: aligned to the clock, with the baseline band and the outage line."""

import pytest

from analytics.selectors import trends

pytestmark = pytest.mark.django_db


def test_trend_has_clock_aligned_buckets_with_baseline_and_threshold(data, tiktok):
    buckets = trends.service_trend(service_id=tiktok.id, range_name="24h", now=data)
    assert len(buckets) == 96
    assert all(b.t.minute % 15 == 0 for b in buckets)
    assert sum(b.reports for b in buckets) == 80
    full = buckets[-3]
    assert full.expected == pytest.approx(2.5)
    assert full.threshold == pytest.approx(7.5)  # 2.5 expected + 5: the outage floor
    assert len(trends.service_trend(service_id=tiktok.id, range_name="7d", now=data)) == 168
