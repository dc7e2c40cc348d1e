"""Browser push with VAPID (RFC 8030, 8291, 8292) through pywebpush: the application
server's key, and one encrypted POST to a subscription's endpoint."""

import base64
import functools
from dataclasses import dataclass

import requests
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from py_vapid import Vapid

from outages.webhooks import target_problem

# How long a push service may hold a message for a device that is offline (seconds): an
# alert a day late is worse than none.
PUSH_TTL = 3600


@functools.cache
def _vapid(private_key: str) -> Vapid:
    if "BEGIN" in private_key:
        return Vapid.from_pem(private_key.encode())
    return Vapid.from_string(private_key)


def vapid() -> Vapid | None:
    key = settings.VAPID_PRIVATE_KEY
    return _vapid(key) if key else None


def application_server_key() -> str:
    """The public key browsers subscribe with (base64url of the uncompressed point), or ""
    when push is not configured."""
    key = vapid()
    if key is None:
        return ""
    raw = key.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class PushResult:
    status: int | None
    error: str
    retryable: bool
    gone: bool  # the subscription has expired or was withdrawn: remove it


def push_send(*, endpoint: str, p256dh: str, auth: str, payload: bytes) -> PushResult:
    key = vapid()
    if key is None:
        return PushResult(None, "push is not configured (VAPID_PRIVATE_KEY)", False, False)
    refused = target_problem(endpoint)
    if refused:
        return PushResult(None, refused, not refused.startswith("refused"), False)
    # pywebpush imports aiohttp for its async API, which we never use: at the top of the
    # module that was about 0.15 s of CPU in every web and worker process at start (this
    # module is loaded by the alerts app's ready()), before a single push was sent.
    from pywebpush import WebPushException, webpush

    try:
        response = webpush(
            subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=payload.decode(),
            vapid_private_key=key,
            vapid_claims={"sub": settings.VAPID_SUBJECT},
            ttl=PUSH_TTL,
            timeout=settings.PUSH_TIMEOUT,
            headers={"Urgency": "high"},
        )
    except WebPushException as exc:
        status = getattr(exc.response, "status_code", None)
        if status is None:
            return PushResult(None, str(exc.message)[:300], True, False)
        return PushResult(
            status,
            f"HTTP {status}",
            status >= 500 or status in (408, 429),
            # RFC 8030 §7.3: 404 and 410 mean the subscription is no more.
            status in (404, 410),
        )
    except (requests.RequestException, OSError) as exc:
        return PushResult(None, f"{type(exc).__name__}: {exc}"[:300], True, False)
    except (ValueError, TypeError) as exc:
        # Keys that do not decode or are not on the curve: the browser sent garbage.
        return PushResult(None, f"unusable subscription keys: {exc}"[:300], False, True)
    status = getattr(response, "status_code", None)
    return PushResult(status, "", False, False)
