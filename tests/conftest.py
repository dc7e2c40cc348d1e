import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dj_database_url
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.signals import request_started
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from analytics.services import records_forget
from common import cache as common_cache
from common.logs import warn_every_reset
from config.celery import app as celery_app
from outages.models import Service
from outages.outbox import outbox_breaker_reset
from outages.selectors import catalogue_forget
from outages.services import service_upsert
from reports.abuse import abuse_state_reset
from tests import pagedata
from tests.mail import MailServer
from tests.push import PushService, vapid_private_key
from tests.redis import OwnRedis, redis_server_bin
from tests.webhooks import Receiver
from web.caching import page_memo_forget
from web.front import front_forget

# `make mutation` (scripts/mutation.py) runs pytest many times in one process (mutmut forks a
# child per mutant from the process that ran the clean suite). Each pytest session there keeps
# the test database (--reuse-db) under one fixed name and hands no open connection to a fork.
MUTATION = os.environ.get("OUTAGES_MUTATION") == "1"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    if MUTATION:
        from django.conf import settings

        name = dj_database_url.parse(os.environ["DATABASE_URL"])["NAME"]
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_{name}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    if MUTATION:
        # A mutant stopped by its time limit in the middle of a transactional test leaves that
        # test's rows in the kept database, where they would fail (or pass) the next mutants'
        # tests: each session there starts from empty tables, as a new test database does.
        from django.core.management import call_command

        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if MUTATION:
        from django.db import connections

        connections.close_all()


@pytest.fixture(autouse=True)
def _plain_static_storage(settings) -> None:
    # Tests render templates without running collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    # Abuse-control state lives in the real Redis test database; start each test clean.
    # So do each process's fallbacks for when Redis or the broker is down, and the log's
    # repeat counts.
    cache.clear()
    common_cache._pass_memo = (0.0, "0")
    abuse_state_reset()
    outbox_breaker_reset()
    warn_every_reset()
    catalogue_forget()
    records_forget()
    page_memo_forget()
    front_forget()
    yield
    cache.clear()
    common_cache._pass_memo = (0.0, "0")
    abuse_state_reset()
    outbox_breaker_reset()
    warn_every_reset()
    catalogue_forget()
    records_forget()
    page_memo_forget()
    front_forget()


@pytest.fixture
def one_window(settings) -> None:
    # The limits count in fixed windows on the clock; windows of 10^9 s (the next boundary in
    # 2033) keep a test from straddling two and seeing both windows' allowance.
    settings.RATE_LIMIT_WINDOW = settings.REPORT_DEDUPE_WINDOW = 10**9


@pytest.fixture
def tiktok(db: None) -> Service:
    return service_upsert(
        slug="tiktok",
        name="TikTok",
        category="social",
        home_url="https://www.tiktok.com",
        problems=["playback", "upload", "login", "app", "other"],
    )


@pytest.fixture
def gmail(db: None) -> Service:
    return service_upsert(
        slug="gmail",
        name="Gmail",
        category="email_productivity",
        home_url="https://mail.google.com",
        problems=["email", "login", "website", "other"],
    )


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def token_api(db: None) -> APIClient:
    user = User.objects.create_user("partner", password="unused-password-123")
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def data(tiktok: Service, gmail: Service) -> datetime:
    """The page data most read tests share (tests/pagedata.py): a TikTok incident against a
    steady Gmail, rolled up with baselines and statuses. Returns the time it describes."""
    return pagedata.build(tiktok=tiktok, gmail=gmail)


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def eager() -> Iterator[None]:
    # Tasks run in-process; retries run at once (Celery ignores countdowns when eager).
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def owner(db) -> User:
    return User.objects.create_user("bot", password="unused-password-123")


@pytest.fixture
def own_redis(settings):
    """A redis-server of this test's own, to kill, pause and restart; the cache uses it."""
    binary = redis_server_bin()
    if binary is None:
        pytest.skip("needs redis-server")
    server = OwnRedis(binary)
    server.start()
    settings.CACHES = server.cache_settings()
    yield server
    server.remove()


@pytest.fixture
def mail_server(settings) -> Iterator[MailServer]:
    """A real SMTP server on 127.0.0.1, and the site's mail sent to it through SMTP."""
    server = MailServer()
    # pytest-django puts the locmem backend in; these tests send through SMTP for real.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.SITE_URL = "http://testserver"
    yield server
    server.close()


@pytest.fixture
def push_service(settings) -> Iterator[PushService]:
    """A push service on 127.0.0.1 and a VAPID key of the site's to push with."""
    from alerts.push import application_server_key

    settings.VAPID_PRIVATE_KEY = vapid_private_key()
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    service = PushService(application_server_key())
    yield service
    service.close()


@pytest.fixture
def django_calls() -> Iterator[list[str]]:
    """The paths Django itself handled (request_started fires for each)."""
    seen: list[str] = []

    def note(sender: Any, environ: dict[str, Any], **kwargs: Any) -> None:
        seen.append(environ["PATH_INFO"])

    request_started.connect(note)
    yield seen
    request_started.disconnect(note)
