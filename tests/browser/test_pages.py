import pytest
from django.core.cache import cache

from analytics.rollup import rollup_run
from tests.browser.conftest import shot

pytestmark = pytest.mark.django_db(transaction=True)


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
    page.wait_for_function(
        "document.querySelectorAll('[data-table=trend] tbody tr').length === 168"
    )
    page.get_by_role("button", name="United States").click()
    page.wait_for_selector("[data-map=service] path[data-code=US-CA]")
    assert "US-CA" in page.locator("[data-table=regions] tbody").inner_text() or (
        "California" in page.locator("[data-table=regions] tbody").inner_text()
    )
    shot(page, "service-us-states")
    # Keyboard: the range buttons and map regions with reports are reachable with Tab.
    page.get_by_role("button", name="6 h").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('[data-table=trend] tbody tr').length === 72")
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
