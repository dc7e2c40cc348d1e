import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from analytics.rollup import rollup_run
from common.cache import detection_pass_mark
from tests.browser.conftest import playwright_api, shot
from web.caching import page_memo_forget

expect = playwright_api.expect

pytestmark = pytest.mark.django_db(transaction=True)


# Seconds the journey from reading the count to reading it again may take (about 5 alone,
# 9 in a loaded full run).
JOURNEY_SECONDS = 15


def within_one_minute(seconds: int) -> None:
    """Wait for a new minute if fewer than `seconds` are left of this one: "the last 15
    minutes" moves on at each minute and drops the oldest minute's reports, so a count read
    before and after a report straddling a minute's end differs by more than the report."""
    left = 60 - timezone.now().second
    if left < seconds:
        time.sleep(left + 0.5)


def wait_for_svg(page, selector: str) -> None:
    page.wait_for_selector(f"{selector} svg path, {selector} svg polyline", state="attached")
    assert page.locator(f"{selector} svg").count() == 1


OVERFLOWING_CARDS = """() => [...document.querySelectorAll('.service-card')].filter(card => {
    const edge = card.getBoundingClientRect().right;
    return [...card.querySelectorAll('*')].some(el => el.getBoundingClientRect().right > edge + 1);
}).map(card => card.dataset.slug)"""


def test_report_journey_from_home_to_counted(desktop, live_server, data):
    page, watch = desktop
    page.goto(live_server.url + "/")
    assert page.get_by_role("heading", name="Problems now").is_visible()
    # Every card holds its name, level, sparkline and count within its border.
    assert page.evaluate(OVERFLOWING_CARDS) == []
    shot(page, "home-desktop")
    within_one_minute(JOURNEY_SECONDS)
    page.get_by_role("link", name="TikTok").first.click()
    page.wait_for_url("**/tiktok/")
    assert (
        page.get_by_role("heading", level=1)
        .inner_text()
        .startswith("User reports indicate problems at TikTok since")
    )
    wait_for_svg(page, "[data-chart=trend]")
    wait_for_svg(page, "[data-map=service]")
    before = int(page.get_by_test_id("last-15m").inner_text())
    shot(page, "service-desktop")

    page.get_by_role("link", name="Report a problem with TikTok").click()
    page.get_by_label("Playback / streaming").check()
    page.select_option("#id_country", "BR")
    page.get_by_role("button", name="Send report").click()
    page.wait_for_url("**/tiktok/report/thanks")
    assert "your report about TikTok is counted" in page.inner_text("h1")
    shot(page, "confirmation-desktop")

    rollup_run()
    cache.clear()  # the page caches its reads for a minute
    page_memo_forget()
    page.get_by_role("link", name="Back to TikTok").click()
    page.wait_for_url("**/tiktok/")
    assert int(page.get_by_test_id("last-15m").inner_text()) == before + 1
    assert watch.foreign == []
    assert watch.errors == []


def test_chart_range_and_us_drilldown(desktop, live_server, data):
    page, watch = desktop
    page.goto(live_server.url + "/tiktok/")
    wait_for_svg(page, "[data-map=service]")
    page.get_by_role("button", name="7 d").click()
    # A locator's wait, not wait_for_function: the page's CSP forbids the eval that needs.
    expect(page.locator("[data-table=trend] tbody tr")).to_have_count(168)
    page.get_by_role("button", name="United States").click()
    page.wait_for_selector("[data-map=service] path[data-code=US-CA]")
    assert "US-CA" in page.locator("[data-table=regions] tbody").inner_text() or (
        "California" in page.locator("[data-table=regions] tbody").inner_text()
    )
    shot(page, "service-us-states")
    # Keyboard: the range buttons and map regions with reports are reachable with Tab.
    page.get_by_role("button", name="6 h").focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-table=trend] tbody tr")).to_have_count(72)
    assert watch.errors == [] and watch.foreign == []


def test_live_map_and_region(desktop, live_server, data):
    page, watch = desktop
    page.goto(live_server.url + "/map/")
    wait_for_svg(page, "[data-map=world]")
    assert page.locator("[data-map=world] path").count() > 150
    shot(page, "map-desktop")
    page.locator("[data-map=world] path[data-code=BR]").click()
    page.wait_for_url("**/region/BR/")
    assert "TikTok" in page.locator("[data-table=region-services]").inner_text()
    shot(page, "region-desktop")
    assert watch.errors == [] and watch.foreign == []


def test_phone_layout(phone, live_server, data):
    page, watch = phone
    for path, name in (("/", "home-phone"), ("/tiktok/", "service-phone"), ("/map/", "map-phone")):
        page.goto(live_server.url + path)
        if path != "/":
            page.wait_for_selector("[data-map] svg path", state="attached")
        # Nothing wider than the screen except inside scrollable table wrappers.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        if path == "/":
            assert page.evaluate(OVERFLOWING_CARDS) == []
        shot(page, name)
    assert watch.errors == [] and watch.foreign == []


def test_pages_work_without_javascript(browser, live_server, data):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.url + "/?q=tik")
    assert page.locator(".service-card").count() == 1
    page.goto(live_server.url + "/tiktok/")
    assert "Brazil" in page.locator("[data-table=regions]").inner_text()
    assert "Playback / streaming" in page.inner_text("[data-region=problems]")
    context.close()


def test_delayed_data_stays_delayed_after_the_live_refresh(desktop, live_server, data):
    # The pages' script redraws levels from the API every 45 s, first at load: it must say
    # what the server said, from the API's delayed_since, not bring the old levels back.
    last = timezone.now() - timedelta(minutes=5)
    detection_pass_mark(at=last)
    page, watch = desktop
    page.goto(live_server.url + "/")
    page.wait_for_load_state("networkidle")
    levels = page.locator(".service-card [data-field=level]").all_inner_texts()
    assert levels and all(t.startswith("Data delayed since") for t in levels), levels
    assert page.inner_text("[data-region=problems-now]").startswith("Data delayed since")
    shot(page, "home-delayed")
    page.goto(live_server.url + "/tiktok/")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("[data-region=headline]").startswith("Data delayed since")
    assert page.inner_text("[data-region=status]").startswith("Data delayed since")
    page.goto(live_server.url + "/region/BR/")
    page.wait_for_load_state("networkidle")
    assert "Data delayed since" in page.inner_text("[data-table=region-services]")
    page.goto(live_server.url + "/map/")
    page.wait_for_load_state("networkidle")
    assert "Data delayed since" in page.inner_text("[data-region=open-incidents]")
    assert watch.errors == [] and watch.foreign == []


def test_the_api_viewers_and_the_admin_load_under_the_policy(desktop, live_server, data):
    # A Content-Security-Policy violation is a console error: PageWatch fails on it.
    page, watch = desktop
    page.goto(live_server.url + "/api/v1/swagger")
    page.wait_for_selector(".swagger-ui .opblock", state="attached")
    shot(page, "api-docs")
    page.goto(live_server.url + "/admin/login/")
    assert page.get_by_label("Password").is_visible()
    assert watch.errors == [] and watch.foreign == [], (watch.errors, watch.foreign)
    page.goto(live_server.url + "/api/v1/redoc")
    page.wait_for_selector("redoc h1, .redoc-wrap h1", state="attached")
    page.wait_for_load_state("networkidle")
    # Redoc's script comes without its "API docs by Redocly" logo from the CDN (web/redoc.py):
    # nothing on the page from another host, nothing for the policy to block.
    assert "API docs by Redocly" in page.inner_text("redoc")
    assert watch.errors == [] and watch.foreign == [], (watch.errors, watch.foreign)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_when_it_is_back_and_what_works_instead(viewport, request, live_server, data, tiktok):
    from outages.services import service_upsert
    from tests.incidents import history_add

    page, watch = request.getfixturevalue(viewport)
    service_upsert(
        slug="instagram",
        name="Instagram",
        category="social",
        home_url="https://www.instagram.com",
        problems=["app"],
    )
    history_add(tiktok, before=data, minutes=[20 * (i + 1) for i in range(12)])
    cache.clear()
    page_memo_forget()
    page.goto(live_server.url + "/tiktok/")
    assert page.get_by_role("heading", name="When will it be back?").is_visible()
    assert page.get_by_test_id("outlook").inner_text().startswith("Likely over by")
    works = page.get_by_test_id("alternatives")
    assert works.inner_text() == "What works instead: Instagram has no problems right now."
    works.get_by_role("link", name="Instagram").click()
    page.wait_for_url("**/instagram/")
    page.go_back()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.get_by_test_id("outlook").scroll_into_view_if_needed()
    shot(page, f"service-outlook-{viewport}")
    assert watch.errors == [] and watch.foreign == []


def test_is_it_just_me_follows_the_browser_language_and_the_choice(browser, live_server, data):
    from urllib.parse import urlsplit

    from tests.browser.conftest import PHONE, PageWatch

    context = browser.new_context(viewport=PHONE, locale="pt-BR")
    page = context.new_page()
    watch = PageWatch(urlsplit(live_server.url).netloc)
    page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    page.goto(live_server.url + "/tiktok/")
    # A Brazilian browser gets the page in Portuguese (web/languages.py).
    page.wait_for_url("**/pt-br/tiktok/")
    said = page.get_by_test_id("just-me")
    # Brazil from pt-BR: the page data's Brazilian spike.
    expect(said).to_contain_text("Os relatos sobre o TikTok vindos deste país (Brasil) estão em")
    expect(said).to_contain_text("não é só com você")
    assert page.get_by_label("Seu país").input_value() == "BR"
    said.scroll_into_view_if_needed()
    shot(page, "service-just-me-phone")
    page.get_by_label("Seu país").select_option("FR")
    expect(said).to_have_text(
        "Poucos relatos sobre o TikTok vindos deste país (França), mas o TikTok tem problemas "
        "em outros lugares: pode chegar até você também."
    )
    assert watch.errors == []
    context.close()


def test_the_one_line_embed_shows_the_card_on_another_site(desktop, live_server, data, tmp_path):
    import functools
    import http.server
    import threading

    page, watch = desktop
    # Another site: a server of its own on another port (another origin), whose page holds our
    # script tag and badge and nothing else of ours.
    (tmp_path / "index.html").write_text(
        "<!doctype html><html lang='en'><title>A blog</title><link rel='icon' href='data:,'>"
        "<h1>Our status</h1>"
        f"<script src='{live_server.url}/static/js/embed.js' data-service='tiktok'></script>"
        f"<p><img src='{live_server.url}/tiktok/badge.svg' alt='TikTok status'></p>"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://localhost:{other.server_address[1]}/")
        card = page.frame_locator("iframe[title='tiktok status']")
        expect(card.get_by_role("heading", level=1)).to_contain_text(
            "User reports indicate problems at TikTok"
        )
        expect(card.get_by_role("link", name="TikTok status and reports")).to_be_visible()
        assert page.locator("img").evaluate("img => img.naturalWidth") > 0  # the badge drew
        shot(page, "embed-elsewhere")
    finally:
        other.shutdown()
    assert watch.errors == []


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_it_works_again_for_me_from_the_service_page(viewport, request, live_server, data):
    from reports.models import Recovery

    page, watch = request.getfixturevalue(viewport)
    page.goto(live_server.url + "/tiktok/")
    page.get_by_role("link", name="It works again for me").click()
    page.wait_for_url("**/tiktok/works-again")
    page.get_by_label("Country").select_option("BR")
    shot(page, f"works-again-form-{viewport}")
    page.get_by_role("button", name="It works again for me").click()
    page.wait_for_url("**/tiktok/works-again/thanks")
    assert "works again for you" in page.get_by_role("heading", level=1).inner_text()
    shot(page, f"works-again-thanks-{viewport}")
    assert Recovery.objects.get().country == "BR"
    cache.clear()
    page_memo_forget()
    page.goto(live_server.url + "/tiktok/")
    said = page.get_by_test_id("recoveries")
    assert said.inner_text() == "It works again for people in: Brazil (1)."
    said.scroll_into_view_if_needed()
    shot(page, f"works-again-service-{viewport}")
    assert watch.errors == [] and watch.foreign == []


# Rows the server rendered, marked once the script has run its first refresh; the marks and
# the text are the same afterwards only if the refresh left equal rows in place.
MARK_ROWS = (
    """() => document.querySelectorAll('tbody tr').forEach(r => { r.dataset.served = '1'; })"""
)
ROWS = """() => [...document.querySelectorAll('tbody tr')].map(r =>
    (r.dataset.served || '') + ' ' + r.textContent.replace(/\\s+/g, '')).join('|')"""


@pytest.mark.parametrize("path", ["/region/BR/", "/es/region/BR/", "/fr/tiktok/", "/hi/map/"])
def test_a_refresh_leaves_rows_that_say_the_same_in_place(desktop, live_server, data, path):
    page, watch = desktop
    page.goto(live_server.url + path, wait_until="domcontentloaded")
    page.evaluate(MARK_ROWS)
    served = page.evaluate(ROWS)
    # The first refresh has read the API and written what it says by the time the network
    # is quiet; numbers in the page's language as the server wrote them leave nothing to
    # replace.
    page.wait_for_load_state("networkidle")
    assert page.evaluate(ROWS) == served
    assert served.count("1 ") >= 1
    assert watch.errors == [] and watch.foreign == []
