"""A PostgreSQL server of a test's own, on a free port, that the test can stop and start: the
shared server on 5432 serves everyone else on this machine and must stay up.

Debian's binaries (/usr/lib/postgresql/<version>/bin); as root, the server runs as the
`postgres` user, since PostgreSQL refuses to run as root."""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connections

from bench.intake import free_port


def postgres_bin() -> Path | None:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


class OwnPostgres:
    """initdb into a temporary directory, then start / stop (-m immediate: like a crash or a
    killed container, open connections are cut without goodbye)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="outages-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_root = os.geteuid() == 0
        self.running = False
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "root", "--auth=trust", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}{log}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c fsync=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        self.running = True

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.running = False

    def create_database(self, name: str) -> None:
        url = f"postgresql://root@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')

    def remove(self) -> None:
        if self.running:
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def default_connection_to(**overrides: Any) -> Iterator[None]:
    """Point the default database connection (the one every view uses) somewhere else for
    the duration, and back again."""
    connection = connections["default"]
    saved = connection.settings_dict
    connection.close()
    connection.settings_dict = {**saved, **overrides}
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict = saved


@contextmanager
def own_postgres(database: str) -> Iterator[OwnPostgres]:
    """A server of the caller's own, started, with `database` created, and removed afterwards.
    Skips the test where Debian's PostgreSQL binaries are missing."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL binaries under /usr/lib/postgresql")
    pg = OwnPostgres(bindir)
    try:
        pg.start()
        pg.create_database(database)
        yield pg
    finally:
        pg.remove()


@contextmanager
def own_postgres_in_use(database: str, django_db_blocker: Any) -> Iterator[OwnPostgres]:
    """own_postgres, migrated, holding the TikTok service, as the default connection (kept
    open between requests, as a web process keeps it) for the duration."""
    from django.core.management import call_command

    from outages.services import service_upsert

    with own_postgres(database) as pg:
        settings = {"HOST": "127.0.0.1", "PORT": str(pg.port), "NAME": database}
        with django_db_blocker.unblock(), default_connection_to(**settings, CONN_MAX_AGE=600):
            call_command("migrate", verbosity=0)
            service_upsert(
                slug="tiktok",
                name="TikTok",
                category="social",
                home_url="https://www.tiktok.com",
                problems=["playback", "upload", "login", "app", "other"],
            )
            yield pg


def other_connection(**options: Any) -> psycopg.Connection:
    """A connection of its own to the default database, beside Django's: what another process
    would see."""
    params = connections["default"].get_connection_params()
    return psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}, **options)
