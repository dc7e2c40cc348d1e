"""ISO 3166 countries and subdivisions: stored as codes, shown with names (from pycountry)."""

from functools import cache

import pycountry


@cache
def countries() -> dict[str, str]:
    return {c.alpha_2: getattr(c, "common_name", c.name) for c in pycountry.countries}


@cache
def subdivisions() -> dict[str, tuple[str, str]]:
    """Subdivision code ("US-CA") -> (country code, name)."""
    return {s.code: (s.country_code, s.name) for s in pycountry.subdivisions}


@cache
def subdivisions_of(country: str) -> list[tuple[str, str]]:
    items = [(code, name) for code, (cc, name) in subdivisions().items() if cc == country]
    return sorted(items, key=lambda item: item[1])


def country_name(code: str) -> str:
    return countries().get(code, code)


def subdivision_name(code: str) -> str:
    return subdivisions().get(code, ("", code))[1]


def country_choices() -> list[tuple[str, str]]:
    return sorted(countries().items(), key=lambda item: item[1])
