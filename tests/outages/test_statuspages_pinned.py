"""Official status pages at their edges: a page known by Last-Modified only, a summary that
did not change while its history did, a page root with a trailing slash, an official incident
posted at the very minute ours ended, and an acknowledgement that only ever moves earlier."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from outages.models import Incident
from outages.services import incidents_acknowledge
from outages.statuspages import Official, OfficialIncident
from tests.incidents import incident_add
from tests.outages.test_statuspages import RECORDED, github, gitlab, page_for, poll, upstream

__all__ = ["github", "gitlab", "upstream"]  # fixtures

NOW = datetime(2026, 3, 2, 14, 31, tzinfo=UTC)
DATED = "Mon, 02 Mar 2026 14:30:00 GMT"


def official(*incidents: tuple[datetime, datetime | None]) -> Official:
    return Official(
        indicator="minor",
        description="",
        incidents=[
            OfficialIncident(f"o{k}", "Errors", "resolved" if end else "investigating", "", at, end)
            for k, (at, end) in enumerate(incidents)
        ],
    )


def test_a_page_known_by_its_date_only_is_asked_if_modified_since(github, upstream):
    upstream.dated["/aws.rss"] = DATED
    page = page_for(github, upstream, "/aws.rss", fmt="feed")
    assert poll(page) == "polled"
    url = upstream.url + "/aws.rss"
    assert page.validators == {url: {"etag": "", "last_modified": DATED}}
    upstream.requests.clear()
    assert poll(page, NOW + timedelta(minutes=1)) == "unchanged"
    ((path, headers),) = upstream.requests
    assert headers.get("If-Modified-Since") == DATED
    assert "If-None-Match" not in headers
    assert page.validators == {url: {"etag": "", "last_modified": DATED}}


def test_a_changed_history_under_an_unchanged_summary_reads_the_summary_again(github, upstream):
    page = page_for(github, upstream, "/gh")
    poll(page)
    # The history's resolved incident is another one now; the summary is the same (its 304).
    body = (RECORDED / "incidents.json").read_text().replace("w9x2c5v8b1n4", "w9x2c5v8b1n5")
    upstream.bodies["/gh/api/v2/incidents.json"] = body.encode()
    upstream.requests.clear()
    assert poll(page, NOW + timedelta(minutes=1)) == "polled"
    paths = [p for p, _ in upstream.requests]
    assert paths == [
        "/gh/api/v2/summary.json",
        "/gh/api/v2/incidents.json",
        "/gh/api/v2/summary.json",
    ]
    # The summary's second read is unconditional: a 304 would leave nothing to read.
    assert "If-None-Match" not in upstream.requests[2][1]
    assert page.indicator == "major"
    assert [i["id"] for i in page.incidents] == ["p3m4zbc1x7yq", "w9x2c5v8b1n5"]


def test_a_page_root_with_a_trailing_slash_is_its_root(github, upstream):
    for name in ("summary", "incidents"):
        upstream.bodies[f"/SpaceX/api/v2/{name}.json"] = (RECORDED / f"{name}.json").read_bytes()
    page = page_for(github, upstream, "/SpaceX/")
    assert poll(page) == "polled"
    assert [p for p, _ in upstream.requests] == [
        "/SpaceX/api/v2/summary.json",
        "/SpaceX/api/v2/incidents.json",
    ]


@pytest.mark.django_db
def test_an_official_incident_posted_as_ours_ended_acknowledges_it(github):
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    ours = incident_add(github, started_at=start, lasted=timedelta(minutes=40))
    end = start + timedelta(minutes=40)
    later = official((end + timedelta(microseconds=1), None))
    assert incidents_acknowledge(service_id=github.id, official=later, now=NOW) == 0
    at_end = official((end, end + timedelta(minutes=5)))
    assert incidents_acknowledge(service_id=github.id, official=at_end, now=NOW) == 1
    ours.refresh_from_db()
    assert (ours.official_acknowledged_at, ours.official_resolved_at) == (
        end,
        end + timedelta(minutes=5),
    )
    # An hour before our start is the earliest that counts; a microsecond more is not ours.
    early = incident_add(github, started_at=start - timedelta(days=1))
    posted = start - timedelta(days=1, hours=1)
    assert (
        incidents_acknowledge(
            service_id=github.id,
            official=official((posted - timedelta(microseconds=1), None)),
            now=NOW,
        )
        == 0
    )
    incidents_acknowledge(service_id=github.id, official=official((posted, None)), now=NOW)
    assert Incident.objects.get(id=early.id).official_acknowledged_at == posted


@pytest.mark.django_db
def test_an_acknowledgement_only_moves_earlier(github):
    start = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    ours = incident_add(github, started_at=start)
    first = start + timedelta(minutes=12)
    incidents_acknowledge(service_id=github.id, official=official((first, None)), now=NOW)
    # The page dropped its first post and lists a later one: the first post still stands.
    again = official((first + timedelta(minutes=6), None))
    assert incidents_acknowledge(service_id=github.id, official=again, now=NOW) == 0
    ours.refresh_from_db()
    assert ours.official_acknowledged_at == first
    # An earlier post seen now moves it earlier.
    earlier = official((start + timedelta(minutes=3), None))
    assert incidents_acknowledge(service_id=github.id, official=earlier, now=NOW) == 1
    ours.refresh_from_db()
    assert ours.official_acknowledged_at == start + timedelta(minutes=3)


def test_a_failure_is_dated_and_the_next_good_answer_clears_it(github, upstream):
    page = page_for(github, upstream, "/gh")
    poll(page)
    summary = upstream.bodies.pop("/gh/api/v2/summary.json")
    failed_at = NOW + timedelta(minutes=1)
    assert poll(page, failed_at) == "failed"
    assert (page.checked_at, page.good_at, page.failures) == (failed_at, NOW, 1)
    assert page.last_error == "HTTP 404"
    # Back as it was: a 304, and the failure is forgotten.
    upstream.bodies["/gh/api/v2/summary.json"] = summary
    assert poll(page, NOW + timedelta(minutes=2)) == "unchanged"
    assert (page.failures, page.last_error) == (0, "")
    assert page.checked_at == page.good_at == NOW + timedelta(minutes=2)
    # A failure, then a changed answer: polled, and forgotten too.
    upstream.bodies.pop("/gh/api/v2/summary.json")
    assert poll(page, NOW + timedelta(minutes=3)) == "failed"
    upstream.bodies["/gh/api/v2/summary.json"] = summary + b" "
    assert poll(page, NOW + timedelta(minutes=4)) == "polled"
    assert (page.failures, page.last_error) == (0, "")
    assert page.checked_at == page.good_at == NOW + timedelta(minutes=4)


def test_a_host_is_free_again_after_its_interval(github, gitlab, upstream, settings):
    from django.core.cache import cache

    from outages.services import status_page_poll

    first, second = page_for(github, upstream, "/gh"), page_for(gitlab, upstream, "/gh")
    cache.delete("status-host:127.0.0.1")
    assert status_page_poll(status_page_id=first.id, now=NOW) == "polled"
    assert status_page_poll(status_page_id=second.id, now=NOW) == "busy"
    time.sleep(1.2)  # STATUS_PAGE_HOST_INTERVAL is 1 s here
    later = NOW + timedelta(seconds=1)
    assert status_page_poll(status_page_id=second.id, now=later) == "polled"
