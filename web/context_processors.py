from django.conf import settings
from django.http import HttpRequest
from django.utils import translation

from web.catalogue import catalogue_url
from web.languages import alternates, html_lang


def site(request: HttpRequest) -> dict[str, str]:
    return {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL}


def languages(request: HttpRequest) -> dict[str, object]:
    """The page's language and its alternates: for `lang`, hreflang links and the switcher;
    the scripts' words in that language."""
    code = translation.get_language()
    others = alternates(request)
    return {
        "html_lang": html_lang(code),
        "language_code": code,
        "og_locale": translation.to_locale(code),
        "js_catalogue_url": catalogue_url(code),
        # Pages outside the prefixes (the API reference, errors) are in English only.
        "alternates": others if len({a["url"] for a in others}) > 1 else [],
    }
