"""The abuse controls of intake: a browser id counts only if this server issued it, one
address adds at most REPORT_ADDRESS_LIMIT counted reports per service per window whatever
route and however many browsers it uses, and reports over that cap are kept, uncounted."""

import json
import secrets

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from analytics.models import MinuteCount
from analytics.rollup import rollup_run
from reports.models import Report, Source
from reports.services import report_rows_insert
from reports.views import BROWSER_COOKIE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("one_window")]

FORM = {"problem": "login", "country": "US"}


def counted_after_rollup() -> int:
    """What detection will see: the reports the minute rollup counted."""
    rollup_run(now=timezone.now())
    return sum(MinuteCount.objects.values_list("count", flat=True))


def test_a_browser_id_the_server_did_not_sign_is_no_identity(tiktok):
    # 40 posts from one address, each with a browser id of its own making: one person.
    statuses = []
    for _ in range(40):
        browser = Client()
        browser.cookies[BROWSER_COOKIE] = secrets.token_hex(16)
        statuses.append(browser.post("/tiktok/report", FORM).status_code)
    assert statuses.count(302) == 30 and statuses.count(429) == 10  # the rate limit
    assert Report.objects.count() == 1
    assert counted_after_rollup() == 1


def test_a_forged_or_absent_browser_id_gets_a_fresh_signed_one(tiktok):
    forged = secrets.token_hex(16)
    browser = Client()
    browser.cookies[BROWSER_COOKIE] = forged
    r = browser.post("/tiktok/report", FORM)
    issued = r.cookies[BROWSER_COOKIE].value
    assert issued != forged
    from reports.views import browser_id

    request = RequestFactory().get("/tiktok/report")
    request.COOKIES[BROWSER_COOKIE] = issued
    assert browser_id(request) is not None and len(browser_id(request) or "") == 32
    request.COOKIES[BROWSER_COOKIE] = issued[:-1] + ("A" if issued[-1] != "A" else "B")
    assert browser_id(request) is None  # tampered with
    # The issued id is an identity of its own: kept, and not replaced on the next page.
    assert BROWSER_COOKIE not in browser.get("/tiktok/report").cookies
    assert BROWSER_COOKIE in Client().get("/tiktok/report").cookies


def test_one_address_counts_at_most_its_cap_however_many_browsers(tiktok, settings):
    # Browsers that each fetched the form first hold real ids the server signed; an address
    # can collect as many as it likes, so the address itself is capped.
    assert settings.REPORT_ADDRESS_LIMIT == 10
    targets = []
    for _ in range(14):
        browser = Client()
        browser.get("/tiktok/report")
        targets.append(browser.post("/tiktok/report", FORM)["Location"])
    assert targets.count("/tiktok/report/thanks") == 10
    assert targets.count("/tiktok/report/received") == 4
    # Nothing a person said is lost: stored, only not counted.
    assert Report.objects.count() == 14
    assert Report.objects.filter(counted=True).count() == 10
    assert counted_after_rollup() == 10


def test_a_report_over_the_cap_is_acknowledged_as_received(client, tiktok, settings):
    settings.REPORT_ADDRESS_LIMIT = 1
    Client().get("/tiktok/report")
    first = Client()
    first.get("/tiktok/report")
    first.post("/tiktok/report", FORM)
    client.get("/tiktok/report")
    r = client.post("/tiktok/report", {**FORM, "comment": "same here"}, follow=True)
    assert r.redirect_chain[-1][0] == "/tiktok/report/received"
    assert "is received" in r.content.decode()
    assert "not added to the live count" in r.content.decode()
    stored = Report.objects.get(comment="same here")
    assert stored.counted is False
    # Its comment stays off the service page with it.
    assert "same here" not in client.get("/tiktok/").content.decode()


def test_the_cap_spans_the_form_and_the_api(client, api, tiktok, settings):
    settings.REPORT_ADDRESS_LIMIT = 2
    for _ in range(2):
        browser = Client()
        browser.get("/tiktok/report")
        browser.post("/tiktok/report", FORM)
    r = api.post(
        "/api/v1/reports",
        data=json.dumps({"service": "tiktok", **FORM}),
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["counted"] is False
    assert "Stored, not counted" in r.json()["detail"]
    assert Report.objects.filter(source=Source.API, counted=False).count() == 1
    assert counted_after_rollup() == 2


def test_the_cap_is_per_service(client, tiktok, gmail, settings):
    settings.REPORT_ADDRESS_LIMIT = 1
    for slug in ("tiktok", "gmail"):
        browser = Client()
        browser.get(f"/{slug}/report")
        problem = "login"
        r = browser.post(f"/{slug}/report", {"problem": problem, "country": "US"})
        assert r["Location"] == f"/{slug}/report/thanks"


def test_an_ipv6_address_is_capped_by_its_64_network(api, tiktok):
    # Every address of a /64 belongs to the one household or phone it was handed to.
    for host in range(1, 13):
        r = api.post(
            "/api/v1/reports",
            data=json.dumps({"service": "tiktok", **FORM}),
            content_type="application/json",
            REMOTE_ADDR=f"2001:db8:1:2::{host:x}",
        )
        assert r.status_code in (200, 201)
    assert Report.objects.count() == 12
    assert counted_after_rollup() == 10


def test_the_cap_can_be_turned_off(client, tiktok, settings):
    settings.REPORT_ADDRESS_LIMIT = 0
    for _ in range(12):
        browser = Client()
        browser.get("/tiktok/report")
        browser.post("/tiktok/report", FORM)
    assert counted_after_rollup() == 12


def test_a_batch_is_not_capped_by_the_partners_address(token_api, tiktok):
    # A batch comes from a partner's server on behalf of its users: its address is not theirs.
    items = [{"service": "tiktok", **FORM, "client_id": f"user-{i}"} for i in range(25)]
    r = token_api.post(
        "/api/v1/reports/batch",
        data=json.dumps({"reports": items}),
        content_type="application/json",
    )
    assert r.status_code == 201
    assert counted_after_rollup() == 25


def test_rows_inserted_without_the_column_are_counted(tiktok):
    # COPY (the batch path, the demo, imports) names no `counted`: the database default holds.
    now = timezone.now()
    report_rows_insert(rows=[(tiktok.id, "login", "US", "", "", now, "batch", "k" * 32)])
    assert Report.objects.get().counted is True
