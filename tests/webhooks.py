"""A real webhook receiver on 127.0.0.1, and the few steps the webhook tests share."""

import hashlib
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.utils import timezone

from config.celery import app as celery_app
from outages.models import Level
from outages.services import (
    incident_observe,
    subscription_create,
)


class Receiver:
    """A webhook receiver on 127.0.0.1 answering with the queued status codes (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def subscribe(owner, url, **kwargs):
    fields = {"services": [], "countries": [], "min_level": Level.OUTAGE} | kwargs
    return subscription_create(owner=owner, url=url, **fields)


def open_incident(service, country="", level=Level.OUTAGE):
    now = timezone.now()
    incident, _ = incident_observe(
        service_id=service.id,
        country=country,
        level=level,
        at=now,
        started_at=now - timedelta(minutes=3),
        reports=40,
        expected=2,
    )
    return incident


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    # What a receiver does: the README shows the same few lines.
    signed = headers["X-Outage-Radar-Timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Outage-Radar-Signature"])


@contextmanager
def dead_broker() -> Iterator[None]:
    """Point Celery at a port where nothing listens, failing at once instead of retrying."""
    app: Any = celery_app  # reaches into the app's private connection pools
    keys = (
        "broker_url",
        "broker_connection_retry",
        "task_publish_retry",
        "broker_transport_options",
    )
    saved = {k: app.conf[k] for k in keys}
    # The app caches its connection pools; set them aside (not closed: later tests use them)
    # so that publishes meanwhile go to the dead broker.
    pools = app._pool, app.amqp._producer_pool
    app._pool = app.amqp._producer_pool = None
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    app.conf.broker_connection_retry = False
    app.conf.task_publish_retry = False
    # Without it kombu retries the connection for its connect timeout (about 6 s a publish).
    app.conf.broker_transport_options = {**saved["broker_transport_options"], "max_retries": 0}
    try:
        yield
    finally:
        app.conf.update(saved)
        app._pool, app.amqp._producer_pool = pools
