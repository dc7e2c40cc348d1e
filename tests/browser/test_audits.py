"""axe-core, the accessibility rules no one here wrote, on every page at desktop and phone
sizes in English, and on every translated page in each other shipped language. axe.min.js
comes from node_modules (make node_modules installs it); its script is evaluated in the page
through the DevTools protocol, which the page's Content-Security-Policy does not govern, so the
policy under test stays as strict as it is."""

from pathlib import Path

import pytest

from tests import pagedata
from tests.browser.conftest import DESKTOP, VIEWPORTS, open_page, shot

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# Each page as a visitor first sees it, with what its script draws (wait_for) in place.
PAGES = {
    "home": ("/", ".service-card"),
    "service": ("/tiktok/", "[data-map=service] svg path"),
    "map": ("/map/", "[data-map=world] svg path"),
    "region": ("/region/BR/", "[data-table=region-services] tbody tr"),
    "report": ("/tiktok/report", "form.report-form"),
    "thanks": ("/tiktok/report/thanks", "h1"),
    "received": ("/tiktok/report/received", "h1"),
    "works-again": ("/tiktok/works-again", "form.report-form"),
    "works-again-thanks": ("/tiktok/works-again/thanks", "h1"),
    "alerts": ("/tiktok/alerts/", "form.alert-form"),
    "alerts-sent": ("/tiktok/alerts/sent/", "h1"),
    "offline": ("/offline/", "[data-stored-pages]"),
    "embed": ("/tiktok/embed/", "h1"),
    # A wider problem (tests.pagedata.event_build): its id is known once it is built.
    "event": ("/events/{event}/", "[data-testid=event-member]"),
    # The API reference is in English only, like the API.
    "api-docs": ("/api/v1/docs", "h1"),
    "api-docs-tag": ("/api/v1/docs/services", "h1"),
}
# The other shipped languages: every translated page loaded once, at one size (alternating
# from page to page and from one language to the next), checked, then narrowed or widened to
# the other size and checked again. Loading each page again at the other size would be 14 x
# 6 more page loads in a suite that should stay under ten minutes; the layout at both sizes
# is CSS (media queries), which the resize applies.
LANGUAGES = ["es", "pt-br", "fr", "de", "ja", "hi"]
OTHER_SIZE = {"desktop": "phone", "phone": "desktop"}
TRANSLATED = [name for name in PAGES if not name.startswith("api-docs")]
# WCAG 2.2 A and AA and axe's best practices (landmarks, heading order, ...).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_violations(page) -> list[dict]:
    page.evaluate(AXE.read_text())
    return page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))",
        TAGS,
    )


def _load(page, url: str, ready: str) -> None:
    page.goto(url)
    page.wait_for_selector(ready, state="attached")
    page.wait_for_load_state("networkidle")


def _violations_on_every_page(
    browser, live_server, pages, *, language: str, sizes, both: bool = False
) -> None:
    """Every page in one browser context, one after the other (a context and a database
    flush per page cost more than the page itself), at the size `sizes` gives for its
    position, and with `both` at the other size too; fails with every page's violations at
    once."""
    if not AXE.exists():
        pytest.skip(f"no {AXE} (make node_modules installs axe-core)")
    prefix = f"/{language}" if language != "en" else ""
    found: dict[str, list[dict]] = {}
    context, page, watch = open_page(browser, live_server, DESKTOP)
    try:
        for i, (name, (path, ready)) in enumerate(pages.items()):
            size = sizes(i)
            page.set_viewport_size(VIEWPORTS[size])
            _load(page, live_server.url + prefix + path, ready)
            assert page.evaluate("document.documentElement.lang").lower() == language, name
            for checked in (size, OTHER_SIZE[size]) if both else (size,):
                if checked != size:
                    page.set_viewport_size(VIEWPORTS[checked])
                    page.wait_for_timeout(100)  # the resize's layout and the scripts' redraw
                shot(page, f"audit-{name}{'' if language == 'en' else '-' + language}-{checked}")
                violations = axe_violations(page)
                if violations:
                    found[f"{name} {checked}"] = violations
        assert found == {}, found
        assert watch.errors == [] and watch.foreign == [], (watch.errors, watch.foreign)
    finally:
        context.close()


def _every_page(tiktok, gmail, now, names) -> dict[str, tuple[str, str]]:
    event = pagedata.event_build(tiktok=tiktok, gmail=gmail, now=now)
    pages = {name: (PAGES[name][0].format(event=event), PAGES[name][1]) for name in names}
    # The pages an alert's mails link to, by their signed links.
    pages.update({name: (path, "form button") for name, path in _alert_links(tiktok).items()})
    return pages


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_axe_finds_no_violation(browser, live_server, data, size, tiktok, gmail):
    pages = _every_page(tiktok, gmail, data, list(PAGES))
    _violations_on_every_page(browser, live_server, pages, language="en", sizes=lambda i: size)


@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_finds_no_violation_in_every_language(
    browser, live_server, data, language, tiktok, gmail
):
    pages = _every_page(tiktok, gmail, data, TRANSLATED)
    first = LANGUAGES.index(language)
    _violations_on_every_page(
        browser,
        live_server,
        pages,
        language=language,
        sizes=lambda i: ("desktop", "phone")[(first + i) % 2],
        both=True,
    )


CHART_EDGES = """() => {
    const svg = document.querySelector('[data-chart=trend] svg');
    const box = svg.getBoundingClientRect();
    const labels = [...svg.querySelectorAll('text')].map(t => t.getBoundingClientRect());
    const lastX = sel => {
        const pts = svg.querySelector(sel).getAttribute('points').trim().split(' ');
        return Number(pts[pts.length - 1].split(',')[0]);
    };
    return {
        clipped: labels.filter(r => r.right > box.right + 0.5 || r.left < box.left - 0.5).length,
        threshold_end: lastX('.threshold'), reports_end: lastX('.reports-line'),
    };
}"""


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_chart_keeps_its_labels_and_threshold_to_the_edge(browser, live_server, data, size):
    context, page, watch = open_page(browser, live_server, VIEWPORTS[size])
    try:
        page.goto(live_server.url + "/tiktok/")
        page.wait_for_selector("[data-chart=trend] svg .threshold", state="attached")
        edges = page.evaluate(CHART_EDGES)
        assert edges["clipped"] == 0, edges
        assert edges["threshold_end"] == edges["reports_end"], edges
    finally:
        context.close()


BOX_HEIGHTS = (
    "sel => [...document.querySelectorAll(sel)]"
    ".map(n => Math.round(n.getBoundingClientRect().height))"
)


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("path", ["/map/", "/tiktok/"])
def test_the_boxes_have_their_size_before_the_script_draws(browser, live_server, data, path, size):
    # Layout shift: what the script draws into must not grow the page when it arrives.
    viewport = VIEWPORTS[size]
    context, page, watch = open_page(browser, live_server, viewport)
    try:
        page.route("**/static/js/pages.js", lambda route: route.abort())
        page.goto(live_server.url + path)
        before = page.evaluate(BOX_HEIGHTS, ".map-canvas, .chart-canvas, main")
        page.unroute("**/static/js/pages.js")
        page.goto(live_server.url + path)
        page.wait_for_selector("[data-map] svg path", state="attached")
        page.wait_for_load_state("networkidle")
        after = page.evaluate(BOX_HEIGHTS, ".map-canvas, .chart-canvas, main")
        assert [abs(a - b) <= 1 for a, b in zip(before, after, strict=True)] == [True] * len(
            before
        ), (before, after)
    finally:
        context.close()


def test_on_a_phone_tables_stack_and_the_address_is_clear_of_the_button(phone, live_server, data):
    page, watch = phone
    for path in ("/tiktok/", "/map/", "/region/BR/"):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        wide = page.evaluate(
            "() => [...document.querySelectorAll('.table-wrap')]"
            ".filter(w => w.offsetParent && w.scrollWidth > w.clientWidth + 1).length"
        )
        assert wide == 0, path
    page.goto(live_server.url + "/tiktok/")
    gap = page.evaluate(
        "() => { const b = document.querySelector('.actions .button').getBoundingClientRect();"
        " const a = document.querySelector('.actions .home-url').getBoundingClientRect();"
        " return Math.max(a.left - b.right, a.top - b.bottom, b.left - a.right); }"
    )
    assert gap >= 8, gap
    assert watch.errors == []


def _alert_links(service) -> dict[str, str]:
    """The pages reached from an alert's mails, by their signed links."""
    from django.utils import timezone

    from alerts.models import Alert, Channel
    from alerts.tokens import SignUp, confirm_token, unsubscribe_token

    alert = Alert.objects.create(
        channel=Channel.EMAIL, service=service, email="ana@example.com", created_at=timezone.now()
    )
    signup = SignUp("bo@example.com", service.id, "BR", True, False, "en")
    return {
        "alerts-confirm": f"/alerts/confirm/{confirm_token(signup)}/",
        "alerts-unsubscribe": f"/alerts/unsubscribe/{unsubscribe_token(alert.id)}/",
    }


CARD_GAPS = """() => {
    const cards = [...document.querySelectorAll('main .card')].map(c => c.getBoundingClientRect());
    const gaps = [];
    for (const a of cards) {
        // The nearest card below this one in its column.
        const below = cards
            .filter(b => b.top >= a.bottom - 1 && b.left < a.right && b.right > a.left)
            .sort((x, y) => x.top - y.top)[0];
        if (below) gaps.push(Math.round(below.top - a.bottom));
    }
    return gaps;
}"""


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_sections_keep_their_spacing_and_choices_are_tap_targets(browser, live_server, data, size):
    context, page, watch = open_page(browser, live_server, VIEWPORTS[size])
    try:
        page.goto(live_server.url + "/")
        gap = page.evaluate(
            "() => document.getElementById('services-h').getBoundingClientRect().top"
            " - document.querySelector('.problems-now').getBoundingClientRect().bottom"
        )
        assert gap >= 16, gap  # the "All services" heading clear of the "Problems now" card
        page.goto(live_server.url + "/tiktok/")
        page.wait_for_load_state("networkidle")
        # One card's margin between cards, in a column of two as in one.
        assert set(page.evaluate(CARD_GAPS)) == {16}, page.evaluate(CARD_GAPS)
        page.goto(live_server.url + "/tiktok/report")
        heights = page.evaluate(
            "() => [...document.querySelectorAll('.report-form fieldset label')]"
            ".map(l => l.getBoundingClientRect().height)"
        )
        assert heights and min(heights) >= 32, heights
    finally:
        context.close()
