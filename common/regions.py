"""ISO 3166 countries and subdivisions: stored as codes, shown with names (from pycountry), in
the active language through the translations pycountry ships (Debian's iso-codes)."""

import gettext
from functools import cache

import pycountry
from django.utils import translation


@cache
def countries() -> dict[str, str]:
    """Code -> English name: the set of valid codes, and names before translation."""
    return {c.alpha_2: getattr(c, "common_name", c.name) for c in pycountry.countries}


@cache
def subdivisions() -> dict[str, tuple[str, str]]:
    """Subdivision code ("US-CA") -> (country code, English name)."""
    return {s.code: (s.country_code, s.name) for s in pycountry.subdivisions}


@cache
def _catalogue(domain: str, language: str) -> gettext.NullTranslations:
    locale = translation.to_locale(language)
    return gettext.translation(
        domain, pycountry.LOCALES_DIR, languages=[locale, locale.split("_")[0]], fallback=True
    )


def _language(language: str | None) -> str:
    return language or translation.get_language() or "en"


@cache
def _country_names(language: str) -> dict[str, str]:
    words = _catalogue("iso3166-1", language)
    return {code: words.gettext(name) for code, name in countries().items()}


@cache
def _subdivision_names(language: str) -> dict[str, str]:
    words = _catalogue("iso3166-2", language)
    return {code: words.gettext(name) for code, (_, name) in subdivisions().items()}


def country_name(code: str, *, language: str | None = None) -> str:
    return _country_names(_language(language)).get(code, code)


def subdivision_name(code: str, *, language: str | None = None) -> str:
    return _subdivision_names(_language(language)).get(code, code)


def subdivisions_of(country: str) -> list[tuple[str, str]]:
    return _subdivisions_of(country, _language(None))


@cache
def _subdivisions_of(country: str, language: str) -> list[tuple[str, str]]:
    names = _subdivision_names(language)
    items = [(code, names[code]) for code, (cc, _) in subdivisions().items() if cc == country]
    return sorted(items, key=lambda item: item[1])


def country_choices() -> list[tuple[str, str]]:
    return sorted(_country_names(_language(None)).items(), key=lambda item: item[1])
