"""A wider problem where people look: the home page's banner, the event page, and the banner
on a member service's page, in a real browser under the site's policy."""

import pytest

from tests import pagedata
from tests.browser.conftest import ARTIFACTS, playwright_api, shot
from tests.browser.test_audits import AXE, axe_violations

expect = playwright_api.expect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_banner_leads_from_home_to_the_event_and_its_services(
    viewport, request, live_server, data, tiktok, gmail
):
    page, watch = request.getfixturevalue(viewport)
    event_id = pagedata.event_build(tiktok=tiktok, gmail=gmail, now=data)
    pagedata.official_build(service=tiktok, now=data)
    page.goto(live_server.url + "/")
    banner = page.get_by_test_id("event-banner")
    expect(banner).to_have_count(1)
    text = banner.inner_text()
    assert text.startswith("Wider problem: 3 services with problems worldwide since ")
    assert text.endswith(" — likely Cloudflare, which has problems too.")
    shot(page, f"event-home-banner-{viewport}")
    banner.get_by_role("link").click()
    page.wait_for_url(f"**/events/{event_id}/")
    assert (
        page.get_by_test_id("event-headline")
        .inner_text()
        .startswith("3 services with problems worldwide since ")
    )
    assert (
        page.get_by_test_id("event-cause")
        .inner_text()
        .startswith(
            "Likely Cloudflare, which has problems too. Cloudflare has an incident of its own"
        )
    )
    members = page.get_by_test_id("event-member")
    expect(members).to_have_count(3)
    assert " ".join(members.nth(0).inner_text().split()).startswith("Cloudflare (likely cause)")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    shot(page, f"event-page-{viewport}")
    members.get_by_role("link", name="TikTok").click()
    page.wait_for_url("**/tiktok/")
    banner = page.get_by_test_id("event-banner")
    assert banner.inner_text().startswith("Part of a wider problem: 3 services with problems")
    assert (
        page.get_by_test_id("dependencies").inner_text().startswith("Content delivery: Cloudflare")
    )
    official = page.get_by_test_id("official-sentence").inner_text()
    assert official.startswith("The official status page reports a major outage of Uploads since ")
    assert page.get_by_test_id("official-lag").inner_text() == (
        "It acknowledged 1 of our incidents a median of 12 minutes after the reports began "
        "to rise (the slowest 12 minutes)."
    )
    shot(page, f"event-service-{viewport}")
    page.get_by_test_id("official").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"official-service-{viewport}.png"))
    if AXE.exists():
        assert axe_violations(page) == []
    assert watch.errors == [] and watch.foreign == [], (watch.errors, watch.foreign)
