"""'It works again for me' on the maps, in Chromium: a marker of its own over the shading (a
check mark and a number, in screen pixels whatever the map's scale), the country's link saying
it too, and the list under the map; at desktop and phone sizes, with screenshots."""

import pytest

from tests.browser.conftest import PHONE, VIEWPORTS, open_page, shot
from tests.browser.test_audits import AXE, axe_violations
from tests.web.test_recovery_map import recover

pytestmark = pytest.mark.django_db(transaction=True)

MARKERS = """() => [...document.querySelectorAll('[data-map] svg .recovery')].map(g => {
    const box = g.getBoundingClientRect();
    const country = document.querySelector(
        `[data-map] svg path[data-code="${g.dataset.code}"]`).getBoundingClientRect();
    const cx = box.left + box.width / 2, cy = box.top + box.height / 2;
    return {
        code: g.dataset.code, text: g.textContent, hidden: g.getAttribute('aria-hidden'),
        height: Math.round(box.height),
        inside: cx >= country.left && cx <= country.right
            && cy >= country.top && cy <= country.bottom,
        clicks_through: getComputedStyle(g).pointerEvents === 'none',
    };
})"""


@pytest.fixture
def works_again(data, tiktok):
    for _ in range(3):
        recover(tiktok, "BR")
    recover(tiktok, "US", subdivision="US-CA")


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize(("path", "name"), [("/map/", "map"), ("/tiktok/", "service")])
def test_the_map_marks_where_people_say_it_works_again(
    browser, live_server, works_again, path, name, size
):
    context, page, watch = open_page(browser, live_server, VIEWPORTS[size])
    try:
        page.goto(live_server.url + path)
        page.wait_for_selector("[data-map] svg .recovery", state="attached")
        page.wait_for_load_state("networkidle")
        markers = sorted(page.evaluate(MARKERS), key=lambda m: m["code"])
        assert [(m["code"], m["text"]) for m in markers] == [("BR", "✓ 3"), ("US", "✓ 1")]
        for m in markers:
            # Out of the screen reader's way (the country's link and the list say it), over
            # its own country, about 20 px tall on either screen, and clicks reach the map.
            assert m["hidden"] == "true" and m["inside"] and m["clicks_through"], m
            assert 18 <= m["height"] <= 24, m
        brazil = page.locator('[data-map] svg path[data-code="BR"]')
        assert "3 people say it works again" in brazil.locator("title").text_content()
        if name == "map":
            assert "3 people say it works again" in brazil.get_attribute("aria-label")
        items = page.get_by_test_id("recovery-list").locator("li")
        assert items.nth(0).inner_text().startswith("Brazil: 3 people say it works again")
        assert items.nth(1).inner_text().startswith("United States: 1 person says it works again")
        page.locator("[data-map]").first.scroll_into_view_if_needed()
        shot(page, f"recoveries-{name}-{size}")
        if AXE.exists():
            assert axe_violations(page) == []
        assert watch.errors == [] and watch.foreign == [], (watch.errors, watch.foreign)
    finally:
        context.close()


def test_the_us_map_marks_the_states(desktop, live_server, works_again):
    page, watch = desktop
    page.goto(live_server.url + "/tiktok/")
    page.wait_for_selector("[data-map] svg .recovery", state="attached")
    page.get_by_role("button", name="United States").click()
    page.wait_for_selector('[data-map] svg .recovery[data-code="US-CA"]', state="attached")
    assert page.locator("[data-map] svg .recovery").count() == 1
    assert (
        page.get_by_test_id("recovery-list")
        .inner_text()
        .startswith("California: 1 person says it works again")
    )
    shot(page, "recoveries-service-us-desktop")
    assert watch.errors == []


def test_in_japanese_the_list_and_markers_are_in_japanese(browser, live_server, works_again):
    context, page, watch = open_page(browser, live_server, PHONE)
    try:
        page.goto(live_server.url + "/ja/map/")
        page.wait_for_selector("[data-map] svg .recovery", state="attached")
        page.wait_for_load_state("networkidle")
        text = page.get_by_test_id("recovery-list").inner_text()
        assert "ブラジル" in text and "works again" not in text, text
        title = page.locator('[data-map] svg path[data-code="BR"] title').text_content()
        assert "works again" not in title, title
        shot(page, "recoveries-map-ja-phone")
        assert watch.errors == []
    finally:
        context.close()
