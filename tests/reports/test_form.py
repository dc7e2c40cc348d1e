import re

import pytest
from django.test import Client

from reports.models import Report, Source

pytestmark = pytest.mark.django_db


def test_the_service_page_links_to_the_form(client, tiktok):
    r = client.get("/tiktok/")
    assert r.status_code == 200
    assert b'href="/tiktok/report"' in r.content


def test_the_form_lists_the_services_problems_in_order(client, tiktok):
    r = client.get("/tiktok/report")
    assert r.status_code == 200
    values = re.findall(rb'name="problem" value="(\w+)"', r.content)
    assert values == [b"playback", b"upload", b"login", b"app", b"other"]
    assert "or_bid" in r.cookies


def test_it_preselects_the_country_from_accept_language(client, tiktok):
    # A Brazilian browser is sent to the form in Portuguese, the country already chosen.
    r = client.get("/tiktok/report", HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9,en;q=0.8", follow=True)
    assert r.redirect_chain == [("/pt-br/tiktok/report", 302)]
    assert b'<option value="BR" selected>' in r.content
    # States of the preselected country are offered without JavaScript.
    assert b'<option value="BR-SP">' in r.content


def test_the_last_choice_beats_accept_language(client, tiktok):
    client.cookies["or_country"] = "DE"
    r = client.get("/tiktok/report", HTTP_ACCEPT_LANGUAGE="en-US")
    assert b'<option value="DE" selected>' in r.content


def test_unknown_service_is_404(client, db):
    assert client.get("/nope/report").status_code == 404
    assert client.post("/nope/report", {"problem": "login", "country": "US"}).status_code == 404


def test_a_report_is_counted_and_confirmed(client, tiktok):
    other = Client()
    other.get("/tiktok/report")
    other.post("/tiktok/report", {"problem": "login", "country": "US"})
    client.get("/tiktok/report")
    r = client.post(
        "/tiktok/report",
        {"problem": "upload", "country": "BR", "subdivision": "BR-SP", "comment": "stuck"},
        follow=True,
    )
    assert r.status_code == 200
    assert r.redirect_chain[-1][0] == "/tiktok/report/thanks"
    text = r.content.decode()
    assert "your report about TikTok is counted" in text
    assert re.search(r"<strong>1</strong> other person reported TikTok", text)
    report = Report.objects.get(problem="upload")
    assert (report.country, report.subdivision, report.comment, report.source) == (
        "BR",
        "BR-SP",
        "stuck",
        Source.WEB,
    )
    assert r.client.cookies["or_country"].value == "BR"


def test_a_repeat_from_the_same_browser_is_not_counted(client, tiktok):
    client.get("/tiktok/report")
    client.post("/tiktok/report", {"problem": "upload", "country": "BR"})
    r = client.post("/tiktok/report", {"problem": "login", "country": "BR"}, follow=True)
    assert r.redirect_chain[-1][0] == "/tiktok/report/already"
    assert b"already reported TikTok" in r.content
    assert Report.objects.count() == 1


def test_the_honeypot_stores_nothing(client, tiktok):
    r = client.post(
        "/tiktok/report", {"problem": "login", "country": "US", "website": "http://spam"}
    )
    assert r.status_code == 302
    assert Report.objects.count() == 0


def test_it_needs_a_csrf_token(tiktok):
    strict = Client(enforce_csrf_checks=True)
    r = strict.post("/tiktok/report", {"problem": "login", "country": "US"})
    assert r.status_code == 403
    page = strict.get("/tiktok/report")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert token
    r = strict.post(
        "/tiktok/report",
        {"problem": "login", "country": "US", "csrfmiddlewaretoken": token.group(1).decode()},
    )
    assert r.status_code == 302
    assert Report.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"problem": "payments", "country": "US"}, "Select a valid choice"),
        ({"problem": "login", "country": "XX"}, "Select a valid choice"),
        ({"problem": "login"}, "This field is required"),
        ({"problem": "login", "country": "US", "subdivision": "BR-SP"}, "is not in country"),
        ({"problem": "login", "country": "US", "comment": "x" * 281}, "at most 280"),
    ],
)
def test_bad_input_redisplays_the_form_with_a_message(client, tiktok, data, message):
    r = client.post("/tiktok/report", data)
    assert r.status_code == 400
    assert message in r.content.decode()
    assert Report.objects.count() == 0


def test_comments_are_escaped_on_output(client, tiktok):
    client.post(
        "/tiktok/report",
        {"problem": "login", "country": "US", "comment": "<script>alert(1)</script>"},
    )
    r = client.get("/tiktok/")
    assert b"<script>alert(1)</script>" not in r.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in r.content


def test_subdivisions_json(client, db):
    r = client.get("/regions/US.json")
    assert r.status_code == 200
    codes = [s["code"] for s in r.json()["subdivisions"]]
    assert "US-CA" in codes
    assert client.get("/regions/XX.json").status_code == 404


def test_an_oversized_form_post_is_refused(client, tiktok):
    r = client.post("/tiktok/report", {"problem": "login", "country": "US", "comment": "x" * 9000})
    assert r.status_code == 413
    assert Report.objects.count() == 0


def test_the_form_is_rate_limited_per_ip(client, tiktok, settings):
    settings.RATE_LIMIT_REPORTS = 1
    client.post("/tiktok/report", {"problem": "login", "country": "US"})
    r = client.post("/tiktok/report", {"problem": "login", "country": "US"})
    assert r.status_code == 429
    assert int(r["Retry-After"]) >= 1
    assert b"Too many reports" in r.content


def test_its_cookies_are_https_only_where_the_session_cookie_is(client, tiktok, settings):
    settings.SESSION_COOKIE_SECURE = True  # production's default
    r = client.get("/tiktok/report")
    assert r.cookies["or_bid"]["secure"] is True
    r = client.post("/tiktok/report", {"problem": "login", "country": "BR"})
    assert r.cookies["or_country"]["secure"] is True
    settings.SESSION_COOKIE_SECURE = False  # DEV_MODE, plain HTTP
    assert not Client().get("/tiktok/report").cookies["or_bid"]["secure"]
