"""Webhook delivery: announcing an incident's changes to the subscriptions that want them
(one claim per change), checking targets, signing, sending and retrying."""

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from common.http import non_public_address
from outages import selectors
from outages.models import (
    DeliveryStatus,
    Event,
    Incident,
    OutboxTask,
    Subscription,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)
from outages.outbox import outbox_add
from outages.outlook import Outlook

logger = logging.getLogger(__name__)


class DeliverTask(Protocol):
    def delay(self, object_id: int) -> Any: ...


@dataclass(frozen=True, slots=True)
class Channel:
    """Another way to announce incidents, fed by the webhooks' claim: `wanted` says whether
    anyone listens at all (nothing is queued for an incident otherwise); `announce` runs in
    the claim's transaction, under the incident's row lock, and returns the ids of the
    deliveries it created; each is handed to `deliver` through the outbox, under the
    message name `name` (at most 16 characters, not one of OutboxTask's).

    The alerts app registers its e-mail and push channel in its AppConfig.ready: this layer
    does not import the layers that listen to it."""

    name: str
    wanted: Callable[[], bool]
    announce: Callable[..., list[int]]
    deliver: DeliverTask


CHANNELS: dict[str, Channel] = {}


def channel_register(channel: Channel) -> None:
    if channel.name in OutboxTask.values or len(channel.name) > 16:
        raise ValueError(f"unusable channel name {channel.name!r}")
    CHANNELS[channel.name] = channel


def announce_later(incident_id: int) -> None:
    """Have the incident's current state announced: a notify message in the outbox, in the
    transaction of the change, handed to the broker when it commits (or by the outbox sweep,
    if the broker is down then)."""
    if Subscription.objects.filter(active=True).exists() or any(
        channel.wanted() for channel in CHANNELS.values()
    ):
        outbox_add(task=OutboxTask.NOTIFY, object_ids=[incident_id])


def announce_event_later(event_id: int) -> None:
    """The same for an event's change (outages.services.events_apply)."""
    if Subscription.objects.filter(active=True).exists():
        outbox_add(task=OutboxTask.NOTIFY_EVENT, object_ids=[event_id])


def site_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def incident_payload(*, incident: Incident, event: str, previous_level: str) -> dict[str, Any]:
    """The JSON body of a notification: the event and the incident as GET /outages/{id}
    describes it (without the series)."""

    def iso(t: datetime | None) -> str | None:
        return t.astimezone(UTC).isoformat().replace("+00:00", "Z") if t else None

    return {
        "event": event,
        "previous_level": previous_level or None,
        "outage": {
            "id": incident.id,
            "url": site_url(f"/api/v1/outages/{incident.id}"),
            "service": incident.service.slug,
            "service_name": incident.service.name,
            "country": incident.country,
            "level": incident.level,
            "max_level": incident.max_level,
            "started_at": iso(incident.started_at),
            "ended_at": iso(incident.ended_at),
            "peak_at": iso(incident.peak_at),
            "peak_reports": incident.peak_reports,
            "peak_expected": incident.peak_expected,
            "event": incident.event_id,
            "regions": selectors.incident_regions(incident=incident),
            "problems": selectors.incident_problems(incident=incident),
            "outlook": outlook_json(
                selectors.incident_outlook(incident=incident, now=timezone.now())
            ),
        },
    }


def outlook_json(outlook: Outlook | None) -> dict[str, Any] | None:
    """An incident's outlook as the API and notifications give it (None: not enough history)."""
    if outlook is None:
        return None

    def iso(t: datetime | None) -> str | None:
        return t.astimezone(UTC).isoformat().replace("+00:00", "Z") if t else None

    return {
        "basis": outlook.basis,
        "incidents": outlook.incidents,
        "age_minutes": round(outlook.age.total_seconds() / 60, 1),
        "half_within_minutes": round(outlook.half_within.total_seconds() / 60, 1),
        "most_within_minutes": round(outlook.most_within.total_seconds() / 60, 1),
        "half_by": iso(outlook.half_by),
        "most_by": iso(outlook.most_by),
    }


def incident_notify(*, incident_id: int) -> list[int]:
    """Claim the incident's unannounced change and create one delivery for each subscription
    that wants it, and hand the change to every registered channel (alerts); the deliveries
    are sent after commit. Returns the new webhook delivery ids.

    Safe on two workers and on retries: the row lock and `notified_level` let one of them
    claim a change; the others find nothing to announce. Changes that happen before the
    claim are announced together, as the incident's latest state.
    """
    with transaction.atomic():
        # Two notify tasks for one incident (two detection workers, a redelivered task).
        incident = (
            Incident.objects.select_for_update(of=("self",))
            .select_related("service")
            .filter(id=incident_id)
            .first()
        )
        if incident is None or incident.notified_level == incident.level:
            return []
        previous = incident.notified_level
        if incident.ended_at is not None:
            event = WebhookEvent.RESOLVED
        elif not previous:
            event = WebhookEvent.OPENED
        else:
            event = WebhookEvent.LEVEL_CHANGED
        # .update() so that `updated_at` keeps meaning "detection changed it".
        Incident.objects.filter(id=incident.id).update(notified_level=incident.level)
        for channel in CHANNELS.values():
            outbox_add(
                task=channel.name,
                object_ids=channel.announce(
                    incident=incident, event=event, previous_level=previous
                ),
            )
        subscriptions = selectors.subscriptions_for_incident(incident=incident)
        if not subscriptions:
            return []
        body = json.dumps(
            incident_payload(incident=incident, event=event, previous_level=previous),
            separators=(",", ":"),
        )
        now = timezone.now()
        deliveries = WebhookDelivery.objects.bulk_create(
            WebhookDelivery(
                subscription=s, incident=incident, event=event, body=body, created_at=now
            )
            for s in subscriptions
        )
        ids = [d.id for d in deliveries]
        # Sent after commit through the outbox too: a broker that fails between the claim
        # and the deliveries' hand-over must not lose them.
        outbox_add(task=OutboxTask.DELIVER, object_ids=ids)
    return ids


def event_payload(*, event: Event, kind: str) -> dict[str, Any]:
    """The JSON body of an event's notification: the kind and the event as GET /events/{id}
    describes it."""
    row = selectors.event_get(event_id=event.id)
    assert row is not None  # locked by the caller
    url = site_url(f"/api/v1/events/{event.id}")
    return {"event": kind, "wider_problem": selectors.event_row_json(row, url=url)}


def event_notify(*, event_id: int) -> list[int]:
    """Claim the event's unannounced change and create one delivery for each subscription
    that wants it (as incident_notify: one claim per change, safe on two workers)."""
    with transaction.atomic():
        event = Event.objects.select_for_update().filter(id=event_id).first()
        if event is None or event.notified_version >= event.version:
            return []
        if event.ended_at is not None:
            kind = WebhookEvent.EVENT_ENDED
        elif event.notified_version == 0:
            kind = WebhookEvent.EVENT_OPENED
        else:
            kind = WebhookEvent.EVENT_CHANGED
        Event.objects.filter(id=event.id).update(notified_version=event.version)
        subscriptions = selectors.subscriptions_for_event(event=event)
        if not subscriptions:
            return []
        body = json.dumps(event_payload(event=event, kind=kind), separators=(",", ":"))
        now = timezone.now()
        deliveries = WebhookDelivery.objects.bulk_create(
            WebhookDelivery(
                subscription=s, outage_event=event, event=kind, body=body, created_at=now
            )
            for s in subscriptions
        )
        ids = [d.id for d in deliveries]
        outbox_add(task=OutboxTask.DELIVER, object_ids=ids)
    return ids


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of "<timestamp>.<body>" with the subscription's secret, hex: covering the
    timestamp lets receivers reject replays of an old, validly signed body."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class WebhookRetryableError(Exception):
    """The receiver could not take the delivery now (unreachable, timeout, 5xx, 408, 429)."""


def webhook_url_problem(url: str) -> str | None:
    """Why a subscriber's URL cannot be used, or None. Literal private addresses and
    localhost are refused here; host names are checked again when resolved at delivery."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Must be an http or https URL with a host."
    if parts.username or parts.password:
        return "Must not contain credentials; the signature authenticates us."
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return None
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        return "Must be a public address."
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if address.is_global else "Must be a public address."


def _resolve_public(host: str, port: int) -> str | None:
    """An error if the host resolves to any address outside the public internet."""
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return None
    return non_public_address(host, port)


def target_problem(url: str) -> str | None:
    """Why nothing may be POSTed to this URL now, or None: the URL's own rules, then what its
    host resolves to. Problems beginning with "refused" are final; others (a name that does
    not resolve now) may pass later. Push endpoints, which browsers choose, go through it."""
    problem = webhook_url_problem(url)
    if problem:
        return f"refused: {problem}"
    parts = urlsplit(url)
    return _resolve_public(
        parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    )


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, bool]:
    """POST once, following no redirect. Returns (status, error, retryable)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    refused = _resolve_public(host, port)
    if refused:
        return None, refused, not refused.startswith("refused")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = settings.WEBHOOK_TIMEOUT
    connection: http.client.HTTPConnection = (
        http.client.HTTPSConnection(host, port, timeout=timeout)
        if secure
        else http.client.HTTPConnection(host, port, timeout=timeout)
    )
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # drain a little so the connection closes cleanly
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300], True
    finally:
        connection.close()
    if 200 <= status < 300:
        return status, "", False
    return status, f"HTTP {status}", status >= 500 or status in (408, 429)


def webhook_deliver(*, delivery_id: int, final: bool = False) -> str:
    """Send one delivery once and record the attempt. Raises WebhookRetryableError when the
    receiver may take it later (unless `final`); otherwise marks it delivered or failed.
    Running it again after success does nothing."""
    delivery = WebhookDelivery.objects.select_related("subscription").filter(id=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return delivery.status if delivery else "missing"
    subscription = delivery.subscription
    # The attempt number comes from the database, so concurrent runs never share one.
    WebhookDelivery.objects.filter(id=delivery.id).update(attempts=F("attempts") + 1)
    number = WebhookDelivery.objects.values_list("attempts", flat=True).get(id=delivery.id)
    started = time.monotonic()
    at = timezone.now()
    if not subscription.active:
        status, error, retryable = None, "subscription disabled", False
    else:
        body = delivery.body.encode()
        timestamp = str(int(at.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"{settings.SITE_NAME} webhooks",
            "X-Outage-Radar-Event": delivery.event,
            "X-Outage-Radar-Delivery": str(delivery.id),
            "X-Outage-Radar-Timestamp": timestamp,
            "X-Outage-Radar-Signature": webhook_signature(
                secret=subscription.secret, timestamp=timestamp, body=body
            ),
        }
        status, error, retryable = _post(subscription.url, body, headers)
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=number,
        at=at,
        status_code=status,
        error=error[:300],
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    if not error:
        WebhookDelivery.objects.filter(id=delivery.id).update(
            status=DeliveryStatus.DELIVERED, delivered_at=timezone.now()
        )
        return DeliveryStatus.DELIVERED
    if retryable and not final:
        raise WebhookRetryableError(error)
    WebhookDelivery.objects.filter(id=delivery.id).update(status=DeliveryStatus.FAILED)
    logger.warning("webhook delivery %s failed after %s attempts: %s", delivery.id, number, error)
    return DeliveryStatus.FAILED
