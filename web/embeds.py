"""Status for other sites: a badge (SVG), an embeddable card (a page made for an iframe, and a
one-line script that inserts it) and oEmbed. Every one is a public page, cached per minute like
the others, and makes no request to anyone but this site."""

from urllib.parse import urlsplit

from csp.decorators import csp_replace
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone, translation
from django.views.decorators.clickjacking import xframe_options_exempt

from common.regions import countries, country_name
from outages import selectors
from outages.models import LEVEL_RANK, Level, Service
from web.caching import public_page
from web.summaries import delayed_since, service_summary
from web.wording import delayed_text

# Shields-style colours with white text at 4.5:1 or more (WCAG AA), the label in dark grey.
BADGE_COLOURS = {
    Level.OK: "#2e7d32",
    Level.POSSIBLE: "#8a5300",
    Level.OUTAGE: "#c62828",
    "delayed": "#555555",
}
BADGE_LABEL_COLOUR = "#444444"
BADGE_WORDS = {
    Level.OK: "no problems",
    Level.POSSIBLE: "possible problems",
    Level.OUTAGE: "problems",
}
# Verdana 11 px averages about 6.5 px a character: the badge's boxes are sized from the text, as
# shields.io does, without a font file.
CHAR_WIDTH = 6.5
BADGE_PADDING = 10
# The card's size when embedded: what the snippet and oEmbed ask for.
EMBED_WIDTH, EMBED_HEIGHT = 360, 190


def _country(request: HttpRequest) -> str | None:
    """The `country` parameter as a known code ("" for none); None if it is not one."""
    code = request.GET.get("country", "").upper()
    if code and code not in countries():
        return None
    return code


def _level(*, service: Service, country: str) -> str:
    """The service's level worldwide, or in a country: its incident there, or a worldwide one."""
    if not country:
        row = selectors.service_row(slug=service.slug)
        return row.level if row else Level.OK
    levels = [
        i.level
        for i in selectors.incidents_open(service_id=service.id)
        if i.country in ("", country)
    ]
    return max(levels, key=lambda level: LEVEL_RANK[Level(level)], default=Level.OK)


def _badge_parts(label: str, message: str) -> tuple[int, int]:
    return (
        round(len(label) * CHAR_WIDTH + BADGE_PADDING),
        round(len(message) * CHAR_WIDTH + BADGE_PADDING),
    )


def badge_width(*, name: str, level: str) -> int:
    """The worldwide badge's width, for the page that shows it (no layout shift)."""
    left, right = _badge_parts(name, BADGE_WORDS[Level(level)])
    return left + right


@public_page
def badge(request: HttpRequest, slug: str) -> HttpResponse:
    """/<slug>/badge.svg[?country=BR]: the status as a small image."""
    service = get_object_or_404(Service, slug=slug)
    country = _country(request)
    if country is None:
        return HttpResponseBadRequest("country: unknown country code\n", content_type="text/plain")
    stale = delayed_since(now=timezone.now()) is not None
    level = _level(service=service, country=country)
    label = service.name + (f" in {country_name(country)}" if country else "")
    message = "data delayed" if stale else BADGE_WORDS[Level(level)]
    left, right = _badge_parts(label, message)
    context = {
        "label": label,
        "message": message,
        "left": left,
        "right": right,
        "width": left + right,
        "label_x": left / 2,
        "message_x": left + right / 2,
        "label_colour": BADGE_LABEL_COLOUR,
        "colour": BADGE_COLOURS["delayed" if stale else level],
    }
    return render(request, "web/badge.svg", context, content_type="image/svg+xml")


@xframe_options_exempt
@csp_replace({"frame-ancestors": ["*"]})
@public_page
def embed(request: HttpRequest, slug: str) -> HttpResponse:
    """/<slug>/embed/: the status card, made to sit in another site's iframe."""
    service = get_object_or_404(Service, slug=slug)
    row = selectors.service_row(slug=slug)
    assert row is not None  # the service exists
    now = timezone.now()
    summary = service_summary(row=row, now=now)
    context = {
        "service": service,
        "row": row,
        "headline": summary.headline,
        "delayed": delayed_text(since=summary.delayed_since, now=now),
        "last_15m": summary.last_15m,
        "page_url": settings.SITE_URL + reverse("service_detail", args=[slug]),
    }
    return render(request, "web/embed.html", context)


def embed_snippets(*, slug: str, name: str) -> dict[str, str]:
    """The iframe and the one-line script another site pastes in."""
    src = settings.SITE_URL + reverse("embed", args=[slug])
    script = settings.SITE_URL + "/static/js/embed.js"
    title = f"{name} status on {settings.SITE_NAME}"
    return {
        "iframe": (
            f'<iframe src="{src}" title="{title}" width="{EMBED_WIDTH}" '
            f'height="{EMBED_HEIGHT}" loading="lazy"></iframe>'
        ),
        "script": f'<script src="{script}" data-service="{slug}" async></script>',
    }


@public_page
def oembed(request: HttpRequest) -> HttpResponse:
    """/oembed?url=<a service page>[&format=json]: the card as an oEmbed "rich" type."""
    url = request.GET.get("url", "")
    if request.GET.get("format", "json") != "json":
        return HttpResponse("format: only json\n", status=501, content_type="text/plain")
    parts = urlsplit(url)
    site = urlsplit(settings.SITE_URL)
    if not url or (parts.netloc and parts.netloc != site.netloc):
        return JsonResponse({"error": "url: not a page of this site"}, status=404)
    path = parts.path or "/"
    try:
        # A page in any language (/es/tiktok/): resolved under its own prefix.
        with translation.override(translation.get_language_from_path(path) or "en"):
            match = resolve(path)
    except Resolver404:
        match = None
    if match is None or match.url_name != "service_detail":
        return JsonResponse({"error": "url: not a service page"}, status=404)
    service = get_object_or_404(Service, slug=match.kwargs["slug"])
    return JsonResponse(
        {
            "version": "1.0",
            "type": "rich",
            "provider_name": settings.SITE_NAME,
            "provider_url": settings.SITE_URL + "/",
            "title": f"{service.name} status",
            "html": embed_snippets(slug=service.slug, name=service.name)["iframe"],
            "width": EMBED_WIDTH,
            "height": EMBED_HEIGHT,
            "cache_age": 60,
        }
    )
