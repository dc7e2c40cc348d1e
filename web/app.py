"""The installable app: the web app manifest, the service worker (served from the root so
that it may control every page) and the page it shows offline for a page never seen."""

import hashlib
import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.translation import gettext as _

# What the service worker stores when it is installed: the offline page and what every page
# needs. Pages themselves, and their reads, are stored as they are visited.
PRECACHE_STATIC = [
    "css/site.css",
    "js/pages.js",
    "js/app.js",
    "img/favicon.svg",
    "img/icon-192.png",
    "vendor/maps/world.json",
]


def manifest(request: HttpRequest) -> HttpResponse:
    body = {
        "id": "/",
        "name": settings.SITE_NAME,
        "short_name": settings.SITE_NAME,
        "description": _("Is it down, or is it just me? Problems with online services now."),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0072B2",
        "icons": [
            {"src": static("img/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("img/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static("img/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {"src": static("img/favicon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), content_type="application/manifest+json"
    )
    response["Cache-Control"] = "public, max-age=3600"
    return response


def service_worker(request: HttpRequest) -> HttpResponse:
    precache = ["/offline/", *(static(path) for path in PRECACHE_STATIC)]
    # A new version whenever what it stores changes (hashed static names in production):
    # the browser installs the new worker, which drops the old caches.
    version = hashlib.sha256("\n".join(precache).encode()).hexdigest()[:12]
    script = render_to_string(
        "web/sw.js",
        {
            "precache": json.dumps(precache),
            "version": json.dumps(version),
            "icon": json.dumps(static("img/icon-192.png")),
        },
    )
    response = HttpResponse(script, content_type="text/javascript; charset=utf-8")
    # Browsers check for a new worker at most daily anyway; no-cache makes each check real.
    response["Cache-Control"] = "no-cache"
    return response
