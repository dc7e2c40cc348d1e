"""What the benchmarks share: a PostgreSQL database of their own with Django pointed at it,
and the vocabulary of their synthetic reports."""

import os
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import psycopg

COUNTRIES = (
    "US", "GB", "DE", "FR", "BR", "IN", "ES", "IT", "MX", "CA",
    "JP", "NL", "PL", "TR", "AU", "AR", "CO", "SE", "BE", "PT",
    "ID", "PH", "ZA", "NG", "KR", "CH", "AT", "IE", "CL", "NZ",
)  # fmt: skip
SUBDIVISION_COUNTRIES = ("US", "GB", "DE", "FR", "BR", "IN", "ES", "IT", "MX", "CA")
COMMENTS = ("down for everyone here", "won't load", "error 503", "app crashes on start")


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def django_on_new_database(name: str, *, settings_module: str, log: Callable[[str], None]) -> str:
    """Recreate database `name` on the PostgreSQL of DATABASE_URL, point Django at it and
    migrate; returns its URL."""
    user = os.environ.get("USER") or "postgres"
    base = os.environ.get("DATABASE_URL", f"postgres://{user}@127.0.0.1:5432/outages")
    if urlsplit(base).scheme not in ("postgres", "postgresql"):
        raise SystemExit("DATABASE_URL must be a PostgreSQL URL")
    url = with_path(base, f"/{name}")
    log(f"recreating database {name}")
    with psycopg.connect(with_path(base, "/postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    os.environ["DATABASE_URL"] = url
    # Plain HTTP in one process, like the tests: no HTTPS redirect, the development key.
    os.environ.setdefault("DEV_MODE", "true")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return url


def drop_database(url: str, name: str) -> None:
    from django.db import connections

    connections.close_all()
    with psycopg.connect(with_path(url, "/postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def finish_database(url: str, name: str, *, log: Callable[[str], None]) -> None:
    """Drop a bench's database at the end, unless BENCH_KEEP_DB=1 keeps it for profiling."""
    if os.environ.get("BENCH_KEEP_DB") == "1":
        log(f"keeping database {name} (BENCH_KEEP_DB=1)")
        return
    log(f"dropping database {name}")
    drop_database(url, name)


def subdivision_codes() -> dict[str, list[str]]:
    """Country -> its subdivision codes that intake accepts (at most six characters)."""
    from common.regions import subdivisions

    by_country: dict[str, list[str]] = {}
    for code, (country, _) in sorted(subdivisions().items()):
        if len(code) <= 6:
            by_country.setdefault(country, []).append(code)
    return by_country
