"""The two write designs that bench/intake_designs.py compares decide alike: a client's first
report of a service is stored and counted, a repeat is not stored, and each 201 is a row. Run
against the real PostgreSQL and Redis."""

import os
import uuid

import psycopg
import pytest
from django.db import connection
from psycopg.conninfo import make_conninfo

from bench import intake_designs as designs

pytestmark = pytest.mark.django_db


@pytest.fixture
def urls(monkeypatch):
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs PostgreSQL and REDIS_URL")
    db = connection.settings_dict  # the test database
    url = make_conninfo(
        dbname=db["NAME"],
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
    )
    monkeypatch.setenv("DESIGNS_DATABASE_URL", url)
    monkeypatch.setenv("DESIGNS_REDIS_URL", os.environ["REDIS_URL"])
    monkeypatch.setattr(designs, "_local", type(designs._local)())
    monkeypatch.setattr(designs, "_shared", {})
    designs.create_tables(url)
    yield url
    opened = getattr(designs._local, "conn", None)
    if opened is not None:
        opened.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS design_claim, design_report")


@pytest.mark.parametrize("write", [designs.two_round_trips, designs.one_statement])
def test_first_stored_repeat_refused_and_every_201_a_row(urls, write):
    address = f"198.51.100.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:8]}"
    first = {"service": "tiktok", "problem": "login", "country": "US"}
    status, stored = write(first, address)
    assert status == 201 and stored is not None
    assert write(first, address) == (200, None)  # the same client and service: a repeat
    assert write({**first, "problem": "upload"}, address) == (200, None)
    other = write({**first, "service": "gmail"}, address)
    assert other[0] == 201 and other[1] != stored
    assert write(first, address + "-other")[0] == 201  # another client
    assert designs.rows(urls) == 3
    with psycopg.connect(urls) as conn:
        counted = conn.execute(
            "SELECT counted FROM design_report WHERE client_key = %s ORDER BY id", (address,)
        ).fetchall()
    assert counted == [(True,), (True,)]
