"""The scripts' words: Django's JavaScript catalogue at a URL that names its content,
/<lang>/jsi18n/<version>.js, so that a browser keeps it for good like the hashed static files
(a page's scripts then load without asking the server again on the next page).

The catalogue changes only with a release (the translations are compiled when the site is
built), so each process renders each language once and keeps it. A URL with another version
(a page stored before a release) still gets the current words, cached an hour only."""

import hashlib
import threading

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.views.i18n import JavaScriptCatalog

KEEP_FOR_GOOD = "public, max-age=31536000, immutable"
KEEP_AN_HOUR = "public, max-age=3600"

_rendered: dict[str, tuple[str, bytes]] = {}
_lock = threading.Lock()


def catalogue(language: str) -> tuple[str, bytes]:
    """(version, script) of the catalogue in a language, rendered once per process."""
    found = _rendered.get(language)
    if found is None:
        with _lock, translation.override(language):
            request = HttpRequest()
            request.method = "GET"
            response = JavaScriptCatalog.as_view()(request)
            assert isinstance(response, HttpResponse)  # rendered, not streamed
            script = response.content
            found = (hashlib.sha256(script).hexdigest()[:12], script)
            _rendered[language] = found
    return found


def catalogue_url(language: str) -> str:
    with translation.override(language):
        return reverse("javascript_catalogue", args=[catalogue(language)[0]])


def javascript_catalogue(request: HttpRequest, version: str) -> HttpResponse:
    current, script = catalogue(translation.get_language())
    response = HttpResponse(script, content_type='text/javascript; charset="utf-8"')
    response["Cache-Control"] = KEEP_FOR_GOOD if version == current else KEEP_AN_HOUR
    return response
