"""Official status pages, served from recorded answers in each format by a local HTTP server:
what they say is kept, conditional requests, backoff, a per-host limit, hostile answers
logged and skipped with the last good state kept, and the acknowledgement of our incidents."""

import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.cache import cache

from outages.models import Incident, Level, StatusPage
from outages.selectors import official_lag, official_sentence, official_status
from outages.services import service_upsert, status_page_poll, status_pages_due
from outages.statuspages import StatusPageError, parse_feed, parse_statuspage
from tests.incidents import incident_add

RECORDED = Path(__file__).parent / "statuspages"
NOW = datetime(2026, 3, 2, 14, 31, tzinfo=UTC)


class Upstream:
    """Status pages on 127.0.0.1: the recorded answers, and hostile ones."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        # Answers validated by Last-Modified only (path -> its date), as some feeds are.
        self.dated: dict[str, str] = {}
        self.bodies = {
            "/gh/api/v2/summary.json": (RECORDED / "summary.json").read_bytes(),
            "/gh/api/v2/incidents.json": (RECORDED / "incidents.json").read_bytes(),
            "/aws.rss": (RECORDED / "aws.rss").read_bytes(),
            "/gcp.atom": (RECORDED / "gcp.atom").read_bytes(),
            "/bad/api/v2/summary.json": b'{"status": {"indicator": "major", ',
            "/bad/api/v2/incidents.json": b'{"incidents": []}',
            "/bomb.rss": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><rss><channel><item><title>&b;'
            b"</title></item></channel></rss>",
        }
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                upstream.requests.append((self.path, dict(self.headers)))
                if self.path == "/endless/api/v2/summary.json":
                    self.send_response(200)
                    self.end_headers()
                    try:
                        while True:
                            self.wfile.write(b"[" * 4096)
                    except OSError:
                        return
                if self.path == "/drip/api/v2/summary.json":
                    self.send_response(200)
                    self.end_headers()
                    try:
                        for _ in range(40):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(0.1)
                    except OSError:
                        return
                    return
                if self.path.startswith("/redirect/"):
                    self.send_response(302)
                    port = upstream.server.server_port
                    self.send_header("Location", f"http://localhost:{port}/gh/api/v2/summary.json")
                    self.end_headers()
                    return
                body = upstream.bodies.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                dated = upstream.dated.get(self.path)
                if dated is not None:
                    if self.headers.get("If-Modified-Since") == dated:
                        self.send_response(304)
                        self.end_headers()
                        return
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Last-Modified", dated)
                    self.end_headers()
                    self.wfile.write(body)
                    return
                etag = f'"{hash(body) & 0xFFFFFF:x}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream(settings):
    settings.STATUS_PAGE_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.STATUS_PAGE_HOST_INTERVAL = 1
    settings.STATUS_PAGE_MAX_BYTES = 64 * 1024
    settings.STATUS_PAGE_DEADLINE = 1
    settings.STATUS_PAGE_TIMEOUT = 5
    server = Upstream()
    yield server
    server.close()


@pytest.fixture
def github(db):
    return service_upsert(
        slug="github",
        name="GitHub",
        category="cloud_dev",
        home_url="https://github.com",
        problems=["website", "other"],
    )


@pytest.fixture
def gitlab(db):
    """A second service, for two pages on one host."""
    return service_upsert(
        slug="gitlab",
        name="GitLab",
        category="cloud_dev",
        home_url="https://gitlab.com",
        problems=["website"],
    )


def page_for(service, upstream, path, fmt="statuspage"):
    return StatusPage.objects.create(
        service=service, format=fmt, url=upstream.url + path, page_url="https://example.org"
    )


def poll(page, now=NOW):
    cache.delete_many([f"status-host:{h}" for h in ("127.0.0.1", "localhost")])
    StatusPage.objects.filter(id=page.id).update(next_poll_at=None)
    result = status_page_poll(status_page_id=page.id, now=now)
    page.refresh_from_db()
    return result


def test_a_statuspage_page_is_read_and_our_incidents_acknowledged(github, upstream):
    ours = incident_add(github, started_at=datetime(2026, 3, 2, 14, 5, tzinfo=UTC))
    past = incident_add(
        github,
        started_at=datetime(2026, 2, 27, 9, 30, tzinfo=UTC),
        lasted=timedelta(minutes=70),
    )
    unnoticed = incident_add(
        github, started_at=datetime(2026, 2, 28, 20, 0, tzinfo=UTC), lasted=timedelta(minutes=30)
    )
    page = page_for(github, upstream, "/gh")
    assert poll(page) == "polled"
    assert (page.indicator, page.description) == ("major", "Partial System Outage")
    assert page.components == [
        {"name": "Uploads", "status": "major_outage"},
        {"name": "Webhooks", "status": "degraded_performance"},
    ]
    assert page.official_since == datetime(2026, 3, 2, 14, 20, 33, 118000, tzinfo=UTC)
    assert [i["id"] for i in page.incidents] == ["p3m4zbc1x7yq", "w9x2c5v8b1n4"]
    assert page.next_poll_at == NOW + timedelta(seconds=60) and page.failures == 0
    ours.refresh_from_db()
    past.refresh_from_db()
    assert ours.official_acknowledged_at == page.official_since
    assert ours.official_resolved_at is None
    assert past.official_acknowledged_at == datetime(2026, 2, 27, 9, 41, 12, 4000, tzinfo=UTC)
    assert past.official_resolved_at == datetime(2026, 2, 27, 10, 35, 40, 510000, tzinfo=UTC)
    assert Incident.objects.get(id=unnoticed.id).official_acknowledged_at is None
    lag = official_lag(service_id=github.id, watched_since=datetime(2026, 2, 27, tzinfo=UTC))
    assert (lag.acknowledged, lag.unacknowledged) == (2, 1)
    assert (lag.median_minutes, lag.worst_minutes) == (13.4, 15.6)  # 11.2 and 15.55 min
    row = official_status(service_id=github.id)
    assert row is not None
    assert row.sentence == (
        "The official status page reports a major outage of Uploads, Webhooks since 14:20 UTC"
    )


def test_conditional_requests_and_a_304_keep_the_state(github, upstream):
    page = page_for(github, upstream, "/gh")
    poll(page)
    before = page.incidents
    upstream.requests.clear()
    assert poll(page, NOW + timedelta(minutes=1)) == "unchanged"
    sent = [h.get("If-None-Match") for _, h in upstream.requests]
    assert len(sent) == 2 and all(sent)
    assert page.incidents == before and page.good_at == NOW + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("path", "fmt", "error"),
    [
        ("/bad", "statuspage", "malformed JSON"),
        ("/endless", "statuspage", "body larger than 65536 bytes"),
        ("/drip", "statuspage", "answer took more than 1 s"),
        ("/redirect", "statuspage", "refused: localhost resolves to a non-public address"),
        ("/bomb.rss", "feed", "a document type in a feed"),
        ("/missing.rss", "feed", "HTTP 404"),
    ],
)
def test_a_hostile_answer_is_logged_and_skipped_and_the_last_good_state_kept(
    github, upstream, path, fmt, error, caplog
):
    page = page_for(github, upstream, "/gh")
    poll(page)
    good = (page.indicator, page.components, page.incidents, page.good_at)
    StatusPage.objects.filter(id=page.id).update(url=upstream.url + path, format=fmt)
    page.refresh_from_db()
    started = time.monotonic()
    assert poll(page, NOW + timedelta(minutes=1)) == "failed"
    assert time.monotonic() - started < 10  # bounded: no endless read
    assert page.last_error.startswith(error), page.last_error
    assert (page.indicator, page.components, page.incidents, page.good_at) == good
    assert page.failures == 1
    assert page.next_poll_at == NOW + timedelta(minutes=1, seconds=120)
    assert any("keeping its last good state" in r.getMessage() for r in caplog.records)
    assert poll(page, NOW + timedelta(minutes=5)) == "failed"
    assert page.failures == 2 and page.next_poll_at == NOW + timedelta(minutes=5, seconds=240)


def test_backoff_stops_at_its_maximum(github, upstream, settings):
    settings.STATUS_PAGE_BACKOFF_MAX = 600
    page = page_for(github, upstream, "/missing")
    for _ in range(6):
        poll(page)
    assert page.failures == 6 and page.next_poll_at == NOW + timedelta(seconds=600)


def test_one_poll_per_host_at_a_time_and_a_page_not_due_is_skipped(github, gitlab, upstream):
    first, second = page_for(github, upstream, "/gh"), page_for(gitlab, upstream, "/gh")
    assert status_pages_due(now=NOW) == [first.id, second.id]
    cache.delete("status-host:127.0.0.1")
    assert status_page_poll(status_page_id=first.id, now=NOW) == "polled"
    assert status_page_poll(status_page_id=second.id, now=NOW) == "busy"
    second.refresh_from_db()
    assert second.next_poll_at == NOW + timedelta(seconds=1)
    assert status_page_poll(status_page_id=first.id, now=NOW) == "skipped"
    assert status_pages_due(now=NOW) == []


def test_cloud_feeds_in_rss_and_atom(db, upstream):
    aws = service_upsert(
        slug="aws",
        name="AWS",
        category="cloud_dev",
        home_url="https://aws.amazon.com",
        problems=["website"],
    )
    page = page_for(aws, upstream, "/aws.rss", fmt="feed")
    assert poll(page) == "polled"
    assert page.indicator == "minor"
    assert page.description == "Informational message: Increased API error rates"
    assert [i["status"] for i in page.incidents] == ["investigating", "resolved"]
    gcp = parse_feed((RECORDED / "gcp.atom").read_bytes(), now=NOW)
    assert gcp.indicator == "none" and gcp.incidents[0].status == "resolved"
    # Two days later the unresolved AWS entry is history, not an open incident.
    later = parse_feed((RECORDED / "aws.rss").read_bytes(), now=NOW + timedelta(days=2))
    assert later.indicator == "none" and later.since is None


def test_wrong_shapes_are_errors_not_crashes():
    for body in (b"[]", b'{"status": "up"}', b'{"status": {"indicator": "purple"}}'):
        with pytest.raises(StatusPageError):
            parse_statuspage(body)
    with pytest.raises(StatusPageError):
        parse_statuspage(b'{"status": {"indicator": "none"}, "incidents": [{"id": "x"}]}')
    with pytest.raises(StatusPageError):
        parse_feed(b"<html><body>not a feed</body></html>", now=NOW)
    with pytest.raises(StatusPageError):
        parse_feed(b"<rss><channel><item>", now=NOW)


def test_the_sentence():
    since = datetime(2026, 3, 2, 14, 20, tzinfo=UTC)
    uploads = [{"name": "Uploads", "status": "major_outage"}]
    assert official_sentence(indicator="major", components=uploads, since=since) == (
        "The official status page reports a major outage of Uploads since 14:20 UTC"
    )
    assert official_sentence(indicator="none", components=[], since=None) == (
        "The official status page reports no problems"
    )
    assert official_sentence(indicator="", components=[], since=None) == (
        "The official status page has not been read yet"
    )
    assert official_sentence(indicator="", components=[], since=None, failing=True) == (
        "The official status page could not be read"
    )


def test_the_service_page_and_api_show_the_official_status(github, upstream, api, client):
    incident_add(github, started_at=datetime(2026, 3, 2, 14, 5, tzinfo=UTC), level=Level.OUTAGE)
    poll(page_for(github, upstream, "/gh"))
    body = api.get("/api/v1/services/github").json()
    assert body["official"]["indicator"] == "major"
    assert body["official"]["sentence"].startswith("The official status page reports a major")
    assert body["official"]["lag"]["acknowledged"] == 1
    assert body["official"]["lag"]["median_minutes"] == 15.6
    outage = api.get("/api/v1/outages/open").json()["outages"][0]["id"]
    detail = api.get(f"/api/v1/outages/{outage}").json()
    assert detail["official_acknowledged_at"] == "2026-03-02T14:20:33.118000Z"
    assert detail["official_resolved_at"] is None
    html = client.get("/github/").content.decode()
    assert "The official status page reports a major outage of Uploads, Webhooks" in html
    assert "It acknowledged 1 of our incidents a median of 16 minutes after the reports" in html
    assert api.get("/api/v1/services/gmail").status_code == 404


def test_the_beat_task_hands_due_pages_to_the_status_queue(github, upstream, eager, settings):
    from outages.tasks import status_page_poll_task, status_pages_due_task

    page = page_for(github, upstream, "/gh")
    cache.delete("status-host:127.0.0.1")
    route = settings.CELERY_TASK_ROUTES
    assert route[status_page_poll_task.name] == {"queue": "status"}
    assert route[status_pages_due_task.name] == {"queue": "status"}
    assert status_pages_due_task.delay().get() == 1
    page.refresh_from_db()
    assert page.indicator == "major" and page.good_at is not None
