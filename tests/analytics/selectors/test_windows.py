"""Reports expected over a window (each baseline hour weighed by its overlap) and ratios."""

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from analytics.selectors.windows import WINDOWS, baseline_totals, ratio

pytestmark = pytest.mark.django_db


NOW = datetime(2026, 11, 20, 14, 37, 20, tzinfo=UTC)


@pytest.mark.parametrize("window", ["15m", "1h", "6h", "24h"])
def test_expected_counts_each_hours_overlap_with_the_window(tiktok, gmail, window):
    from analytics.models import Baseline

    rng = random.Random(3)
    hour = NOW.replace(minute=0, second=0, microsecond=0)
    rows = [
        Baseline(
            service=service,
            country=country,
            hour=hour - timedelta(hours=h),
            expected=rng.uniform(0, 2),
            computed_at=NOW,
        )
        for service in (tiktok, gmail)
        for country in ("", "US")
        for h in range(-1, 30)
    ]
    Baseline.objects.bulk_create(rows)
    until = NOW.replace(second=0) + timedelta(minutes=1)
    since = until - WINDOWS[window]
    want: dict[tuple[int, str], float] = defaultdict(float)
    for b in rows:
        minutes = (
            min(b.hour + timedelta(hours=1), until) - max(b.hour, since)
        ).total_seconds() / 60
        if minutes > 0:
            want[(b.service_id, b.country)] += b.expected * minutes
    got = baseline_totals(since=since, until=until)
    assert got == pytest.approx(dict(want))
    assert baseline_totals(since=since, until=until, service_id=gmail.id) == (
        pytest.approx({k: v for k, v in want.items() if k[0] == gmail.id})
    )


def test_ratio_has_a_floor_for_quiet_regions():
    assert ratio(3, 0.01) == 1.0
