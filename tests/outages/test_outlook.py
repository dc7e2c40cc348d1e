"""When will it be back: conformal bounds from past incident durations."""

import math
import random
import sys
from datetime import UTC, datetime, timedelta

import pytest

from outages.models import Incident, Service
from outages.outlook import MIN_INCIDENTS, conformal_bound, outlook
from outages.selectors import incident_outlook, service_outlook
from outages.webhooks import incident_payload
from tests.incidents import history_add, incident_add

# Now, to the minute: notifications compute the outlook at the moment they are sent. Taken
# again for each test (below): one taken at import goes stale over a long run (minutes between
# collection and the test make an incident "older" and change which durations exceed its age).
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture(autouse=True)
def _now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        sys.modules[__name__], "NOW", datetime.now(UTC).replace(second=0, microsecond=0)
    )


def test_the_bound_is_the_kth_smallest_with_k_from_n_plus_one() -> None:
    nineteen = [float(d) for d in range(19, 0, -1)]  # 1..19, unsorted
    assert conformal_bound(nineteen, 0.5) == 10.0  # k = ceil(0.5 * 20) = 10
    assert conformal_bound(nineteen, 0.9) == 18.0  # k = ceil(0.9 * 20) = 18
    assert conformal_bound([5.0] * 9, 0.9) == 5.0  # k = 9 of 9
    assert conformal_bound([5.0] * 8, 0.9) is None  # k = 9 of 8: no bound
    assert conformal_bound([], 0.5) is None


def test_too_few_incidents_give_no_outlook_and_the_next_group_is_asked() -> None:
    nine = [float(d) for d in range(10, 100, 10)]
    ten = [float(d) for d in range(10, 110, 10)]
    assert MIN_INCIDENTS == 10
    assert outlook([("service", nine)]) is None
    got = outlook([("service", nine), ("category", ten)])
    assert got is not None
    assert got.basis == "category"
    assert got.incidents == 10
    assert got.half_within == timedelta(minutes=60)  # k = ceil(5.5) = 6 -> 60
    assert got.most_within == timedelta(minutes=100)  # k = ceil(9.9) = 10 -> 100
    assert got.half_by is None  # nothing is open


def test_an_older_incident_is_judged_by_the_incidents_that_lasted_longer() -> None:
    durations = [float(d) for d in range(5, 305, 5)]  # 5 .. 300 minutes
    started = NOW - timedelta(minutes=120)
    young = outlook([("service", durations)], age_minutes=0.0, started_at=NOW)
    old = outlook([("service", durations)], age_minutes=120.0, started_at=started)
    assert young is not None and old is not None
    assert young.incidents == 60
    assert old.incidents == 36  # 125 .. 300
    assert young.half_within == timedelta(minutes=155)  # k = ceil(30.5) = 31 -> 155
    assert old.half_within == timedelta(minutes=215)  # k = ceil(18.5) = 19 -> 125 + 18 * 5
    assert old.half_by == started + timedelta(minutes=215)
    assert old.most_by == started + timedelta(minutes=290)  # k = ceil(33.3) = 34 -> 290
    # Once the incident is older than all but nine of them, there is nothing to say.
    assert outlook([("service", durations)], age_minutes=255.0) is None


def test_leave_one_out_the_ranges_hold_half_and_nine_in_ten_at_every_age() -> None:
    rng = random.Random(7)
    durations = [math.exp(rng.gauss(math.log(40), 1.1)) for _ in range(400)]
    for age in (0.0, 30.0, 120.0):
        # The question asked of every incident still open at that age.
        inside = {0.5: 0, 0.9: 0}
        trials = 0
        for i, d in enumerate(durations):
            if d <= age:
                continue
            others = durations[:i] + durations[i + 1 :]
            got = outlook([("all", others)], age_minutes=age)
            assert got is not None
            trials += 1
            inside[0.5] += d <= got.half_within.total_seconds() / 60
            inside[0.9] += d <= got.most_within.total_seconds() / 60
        assert trials >= 40
        assert 0.45 <= inside[0.5] / trials <= 0.56, age
        assert 0.88 <= inside[0.9] / trials <= 0.95, age


@pytest.mark.django_db
def test_the_outlook_of_an_open_incident_from_its_service_then_its_category(
    tiktok: Service, gmail: Service
) -> None:
    history_add(
        gmail, before=NOW, minutes=[30] * 12
    )  # another category: only in the "every service" group
    history_add(
        tiktok, before=NOW, minutes=[10, 20, 30, 40, 50, 60, 70, 80, 90]
    )  # nine: not enough alone
    open_one = incident_add(tiktok, started_at=NOW - timedelta(minutes=15))
    fallback = incident_outlook(incident=open_one, now=NOW)
    assert fallback is not None
    assert fallback.basis == "all"
    assert fallback.incidents == 20  # TikTok's 20 .. 90 and Gmail's twelve, all over 15 min
    assert fallback.half_within == timedelta(minutes=30)  # k = ceil(10.5) = 11 of them
    assert service_outlook(service=tiktok) is not None  # also from every service
    Incident.objects.filter(service=gmail).delete()
    assert incident_outlook(incident=open_one, now=NOW) is None  # 8 longer than its age
    history_add(tiktok, before=NOW - timedelta(days=10), minutes=[100, 110, 120])
    got = incident_outlook(incident=open_one, now=NOW)
    assert got is not None
    assert got.basis == "service"
    assert got.incidents == 11  # 20 .. 120 lasted longer than 15 minutes
    assert got.half_by == open_one.started_at + timedelta(minutes=70)  # k = 6 of 20..120
    body = incident_payload(incident=open_one, event="outage.opened", previous_level="")
    assert body["outage"]["outlook"]["half_within_minutes"] == 70.0
    assert body["outage"]["outlook"]["basis"] == "service"
