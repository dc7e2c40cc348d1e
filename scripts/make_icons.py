"""Renders the app icons (static/img/icon-*.png) from the site's SVG mark with Debian's
Chromium: `python scripts/make_icons.py`. The PNGs are committed; run this again only when the
mark changes. The maskable icon keeps the mark inside the central 80 % safe zone on a
full-bleed background, as launchers crop it to their own shapes."""

import os
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
MARK = (ROOT / "static" / "img" / "favicon.svg").read_text()
BLUE = "#0072B2"


def page_html(size: int, maskable: bool) -> str:
    inner = int(size * (0.62 if maskable else 1.0))
    background = BLUE if maskable else "transparent"
    mark = MARK.replace("<svg ", "<svg width=100% height=100% ")
    return (
        "<!doctype html><html><body style='margin:0'>"
        f"<div style='width:{size}px;height:{size}px;display:flex;align-items:center;"
        f"justify-content:center;background:{background}'>"
        f"<div style='width:{inner}px;height:{inner}px'>{mark}</div>"
        "</div></body></html>"
    )


def main() -> None:
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for name, size, maskable in (
            ("icon-192.png", 192, False),
            ("icon-512.png", 512, False),
            ("icon-maskable-512.png", 512, True),
        ):
            page = browser.new_page(viewport={"width": size, "height": size})
            page.set_content(page_html(size, maskable))
            page.screenshot(path=str(ROOT / "static" / "img" / name), omit_background=not maskable)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
