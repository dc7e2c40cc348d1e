"""The installable app and the alerts, in real Chromium: Chromium's own installability
check passes on the manifest, icons and service worker; with the connection gone the site
still opens and shows the last status it saw, dated; the alert sign-up goes from the
service page to a confirmed alert through a real SMTP server."""

import re
from datetime import UTC, datetime

import pytest

from alerts.models import Alert
from tests.browser.conftest import ARGS, CHROMIUM, DESKTOP, PHONE, VIEWPORTS, open_page, shot

pytestmark = pytest.mark.django_db(transaction=True)

# As the worker looks its copies up (ignoreVary): a read stored from the page's own fetch
# holds that request's `Accept`, which the read's `Vary: Accept` would make a plain lookup miss.
STORED = (
    "path => caches.open('pages-v1').then(c => c.match(path, {ignoreVary: true})).then(r => !!r)"
)


def wait_stored(page, path: str) -> None:
    """Until the service worker has stored the page (it does so after answering)."""
    for _ in range(100):
        if page.evaluate(STORED, path):
            return
        page.wait_for_timeout(100)
    stored = page.evaluate(
        "caches.open('pages-v1').then(c => c.keys()).then(k => k.map(r => r.url))"
    )
    raise AssertionError(f"{path} never stored; the worker holds {stored}")


def controlled(page) -> None:
    """Wait until the service worker controls the page (the first visit installs it)."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    if not page.evaluate("!!navigator.serviceWorker.controller"):
        page.reload()
    page.wait_for_function("!!navigator.serviceWorker.controller")


def test_chromium_finds_the_site_installable(browser, live_server, data, tmp_path):
    # Installability is not checked in an incognito profile, which every new_context is.
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=ARGS, viewport=PHONE
    )
    try:
        page = context.new_page()
        page.goto(live_server.url + "/")
        controlled(page)
        cdp = context.new_cdp_session(page)
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["url"] == live_server.url + "/manifest.webmanifest"
        assert manifest["errors"] == []
        for size in (192, 512):
            icon = page.request.get(f"{live_server.url}/static/img/icon-{size}.png")
            assert icon.status == 200 and icon.headers["content-type"] == "image/png"
            # The PNG's own header: width and height at bytes 16-24.
            body = icon.body()
            assert int.from_bytes(body[16:20]) == int.from_bytes(body[20:24]) == size
        shot(page, "app-home-phone")
    finally:
        context.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_offline_the_site_opens_with_the_last_status_it_saw(browser, live_server, data, size):
    context, page, watch = open_page(browser, live_server, VIEWPORTS[size])
    try:
        page.goto(live_server.url + "/tiktok/")
        controlled(page)
        wait_stored(page, "/tiktok/")
        # The reads the page made before the worker took over, handed to it to store.
        wait_stored(page, "/api/v1/services/tiktok/trend?range=24h")
        # The map's read too: the offline copy draws the map from it, and it may be stored
        # after the chart's (the page's script waits for its words from the catalogue first).
        wait_stored(page, "/api/v1/services/tiktok/heatmap?window=1h")
        online_headline = page.inner_text("h1")
        assert not page.locator("[data-offline-note]").is_visible()
        made = page.get_attribute("[data-offline-time]", "datetime")

        context.set_offline(True)
        page.goto(live_server.url + "/tiktok/")
        note = page.locator("[data-offline-note]")
        assert note.is_visible()
        # The time this copy was made, as the page said it then.
        when = datetime.fromisoformat(made).astimezone(UTC)
        assert note.inner_text() == (
            f"You are offline. This is the status as of {when:%H:%M} UTC, the last this device saw."
        )
        assert page.inner_text("h1") == online_headline
        # The chart and the map are drawn from the stored reads.
        page.wait_for_selector("[data-chart=trend] svg .reports-line", state="attached")
        page.wait_for_selector("[data-map=service] svg path", state="attached")
        shot(page, f"offline-service-{size}")

        # A page this device never opened: the offline page, listing what it has.
        page.goto(live_server.url + "/gmail/")
        assert page.inner_text("h1") == "You are offline"
        page.wait_for_selector("[data-stored-pages] a[href='/tiktok/']")
        shot(page, f"offline-fallback-{size}")
        context.set_offline(False)
        page.goto(live_server.url + "/tiktok/")
        assert not page.locator("[data-offline-note]").is_visible()
        assert watch.foreign == []
    finally:
        context.close()


def test_signing_up_for_alerts_from_the_service_page(
    browser, live_server, data, mail_server, eager, settings
):
    settings.SITE_URL = live_server.url
    context, page, watch = open_page(browser, live_server, PHONE)
    try:
        page.goto(live_server.url + "/tiktok/")
        page.get_by_test_id("alerts-link").click()
        page.wait_for_url("**/tiktok/alerts/")
        shot(page, "alerts-form-phone")
        page.get_by_label("Your e-mail address").fill("ana@example.com")
        page.select_option("#id_country", "BR")
        page.get_by_label("it has problems").uncheck()
        page.get_by_role("button", name="Send me a confirmation link").click()
        page.wait_for_url("**/tiktok/alerts/sent/")
        assert page.inner_text("h1") == "Check your inbox"
        shot(page, "alerts-sent-phone")
        [message] = mail_server.wait_for(1)
        assert Alert.objects.count() == 0
        # The form carried a CSRF token: the service worker keeps no copy of it.
        assert page.evaluate(STORED, "/tiktok/alerts/") is False
        page.goto(live_server.url + link_in_live(message, live_server.url))
        shot(page, "alerts-confirm-phone")
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_selector("[data-testid=confirmed]")
        shot(page, "alerts-confirmed-phone")
        alert = Alert.objects.get()
        assert (alert.email, alert.country, alert.on_open, alert.on_resolve) == (
            "ana@example.com",
            "BR",
            False,
            True,
        )
        assert watch.errors == [] and watch.foreign == []
    finally:
        context.close()


def link_in_live(message, base: str) -> str:
    match = re.search(re.escape(base) + r"(/alerts/confirm/[^/\s]+/)", str(message.get_body()))
    assert match
    return match.group(1)


def test_the_alert_page_offers_this_device_where_push_is_configured(
    browser, live_server, data, push_service
):
    context, page, watch = open_page(browser, live_server, DESKTOP)
    try:
        page.goto(live_server.url + "/tiktok/alerts/")
        # Shown by the script: the browser has the Push API and the site a key.
        page.wait_for_selector("[data-push]:not([hidden])")
        assert page.get_by_role("button", name="Notify this device").is_visible()
        shot(page, "alerts-form-push-desktop")
        assert watch.errors == [] and watch.foreign == []
    finally:
        context.close()
