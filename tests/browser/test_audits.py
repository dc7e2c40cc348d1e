"""axe-core, the accessibility rules no one here wrote, on every page at desktop and phone
sizes. axe.min.js comes from node_modules (make node_modules installs it); its script is
evaluated in the page through the DevTools protocol, which the page's Content-Security-Policy
does not govern, so the policy under test stays as strict as it is."""

from pathlib import Path

import pytest

from tests.browser.conftest import DESKTOP, PHONE, open_page, shot

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
    "api-docs": ("/api/v1/docs", "h1"),
}
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


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("name", list(PAGES))
def test_axe_finds_no_violation(browser, live_server, data, name, size):
    if not AXE.exists():
        pytest.skip(f"no {AXE} (make node_modules installs axe-core)")
    context, page, watch = open_page(browser, live_server, DESKTOP if size == "desktop" else PHONE)
    try:
        path, ready = PAGES[name]
        page.goto(live_server.url + path)
        page.wait_for_selector(ready, state="attached")
        page.wait_for_load_state("networkidle")
        shot(page, f"audit-{name}-{size}")
        violations = axe_violations(page)
        assert violations == [], violations
        assert watch.errors == [] and watch.foreign == [], (watch.errors, watch.foreign)
    finally:
        context.close()
