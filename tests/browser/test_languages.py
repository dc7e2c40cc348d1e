"""Home -> service -> report -> confirmation in other languages, in a real Chromium: one
visitor whose browser is Japanese (sent to /ja/ by Accept-Language), one who picks Español
with the switcher; the Hindi pages drawn with their script's glyphs. Screenshots in
test-artifacts/ (lang-*.png)."""

from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import DESKTOP, PHONE, PageWatch, playwright_api, shot

expect = playwright_api.expect

pytestmark = pytest.mark.django_db(transaction=True)


def open_in(browser, live_server, *, locale: str, viewport: dict[str, int]):
    context = browser.new_context(viewport=viewport, locale=locale)
    page = context.new_page()
    watch = PageWatch(urlsplit(live_server.url).netloc)
    page.on("console", watch.on_console)
    page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    page.on("request", watch.on_request)
    return context, page, watch


def test_a_japanese_browser_reports_in_japanese(browser, live_server, data):
    context, page, watch = open_in(browser, live_server, locale="ja-JP", viewport=DESKTOP)
    try:
        page.goto(live_server.url + "/")
        page.wait_for_url("**/ja/")
        assert page.locator("html").get_attribute("lang") == "ja"
        expect(page.get_by_role("heading", level=1)).to_have_text("現在の障害")
        page.wait_for_load_state("networkidle")
        shot(page, "lang-ja-home")
        page.get_by_role("link", name="TikTok").first.click()
        page.wait_for_url("**/ja/tiktok/")
        headline = page.get_by_role("heading", level=1)
        expect(headline).to_contain_text("ユーザーの報告によると")
        # The script draws its chart with the catalogue's words and keeps the headline in
        # Japanese when it refreshes it from the API (?lang=ja).
        page.wait_for_selector("[data-chart=trend] svg polyline", state="attached")
        label = page.locator("[data-chart=trend] svg").get_attribute("aria-label")
        assert label.startswith("15 分ごとの報告数"), label
        page.wait_for_load_state("networkidle")
        expect(headline).to_contain_text("ユーザーの報告によると")
        expect(page.get_by_test_id("just-me")).to_contain_text("日本")
        shot(page, "lang-ja-service")
        page.get_by_role("link", name="TikTok の問題を報告").click()
        page.wait_for_url("**/ja/tiktok/report")
        page.get_by_label("再生・ストリーミング").check()
        page.select_option("#id_country", "JP")
        shot(page, "lang-ja-report")
        page.get_by_role("button", name="報告を送信").click()
        page.wait_for_url("**/ja/tiktok/report/thanks")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "ありがとうございます。TikTok についての報告を集計しました。"
        )
        shot(page, "lang-ja-thanks")
        assert watch.errors == [] and watch.foreign == []
    finally:
        context.close()


def test_the_switcher_takes_an_english_browser_to_spanish_and_back(browser, live_server, data):
    context, page, watch = open_in(browser, live_server, locale="en-US", viewport=PHONE)
    try:
        page.goto(live_server.url + "/")
        assert page.locator("html").get_attribute("lang") == "en"
        page.get_by_role("navigation", name="Language").get_by_role("link", name="Español").click()
        page.wait_for_url("**/es/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Problemas ahora")
        # The live filter counts in Spanish.
        page.get_by_label("Buscar").fill("tik")
        expect(page.locator("[data-region=count]")).to_have_text("1 de 2 servicios.")
        page.get_by_role("link", name="TikTok").first.click()
        page.wait_for_url("**/es/tiktok/")
        expect(page.get_by_role("heading", level=1)).to_contain_text(
            "Los reportes de usuarios indican problemas en TikTok"
        )
        page.wait_for_selector("[data-map=service] svg path", state="attached")
        # Country names from iso-codes, in Spanish, on the server-rendered map switch.
        expect(page.get_by_role("button", name="Estados Unidos")).to_be_visible()
        shot(page, "lang-es-service-phone")
        page.get_by_role("link", name="Reportar un problema con TikTok").click()
        page.wait_for_url("**/es/tiktok/report")
        page.get_by_label("Inicio de sesión").check()
        page.select_option("#id_country", "MX")
        # The states come from the JSON endpoint in Spanish (?lang=es).
        expect(page.locator("#id_subdivision option", has_text="Ciudad de México")).to_have_count(1)
        page.get_by_role("button", name="Enviar reporte").click()
        page.wait_for_url("**/es/tiktok/report/thanks")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Gracias, tu reporte sobre TikTok se ha contado."
        )
        shot(page, "lang-es-thanks-phone")
        # The choice sticks: the unprefixed home sends this English browser to Spanish...
        page.goto(live_server.url + "/map/")
        page.wait_for_url("**/es/map/")
        # ...until English is chosen again.
        page.get_by_role("navigation", name="Idioma").get_by_role("link", name="English").click()
        page.wait_for_url(live_server.url + "/map/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Live outage map")
        assert watch.errors == [] and watch.foreign == []
    finally:
        context.close()


def test_hindi_pages_are_drawn_with_devanagari(browser, live_server, data):
    context, page, watch = open_in(browser, live_server, locale="hi-IN", viewport=DESKTOP)
    try:
        page.goto(live_server.url + "/tiktok/")
        page.wait_for_url("**/hi/tiktok/")
        page.wait_for_selector("[data-map=service] svg path", state="attached")
        page.wait_for_load_state("networkidle")
        expect(page.get_by_role("heading", level=1)).to_contain_text("उपयोगकर्ताओं की रिपोर्टें")
        # A font with the glyphs: the heading is as wide as its text, not a row of boxes of
        # one width (a missing glyph is drawn as the same .notdef box whatever the letter).
        widths = page.evaluate(
            """() => ['क', 'ख', 'ि', 'ज'].map(c => {
                const s = document.createElement('span'); s.textContent = c.repeat(20);
                document.body.appendChild(s); const w = s.getBoundingClientRect().width;
                s.remove(); return Math.round(w); })"""
        )
        assert len(set(widths)) > 1, widths
        shot(page, "lang-hi-service")
        assert watch.errors == [] and watch.foreign == []
    finally:
        context.close()
