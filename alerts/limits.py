"""Limits on alert sign-ups: confirmation mails per address per day, and sign-ups per client
address (an IPv4 address, an IPv6 /64) per hour. Fixed windows in Django's cache (Redis), so
they hold across web workers. The keys hold a keyed hash of the e-mail address, never the
address: nothing of an unconfirmed address is stored, not even in the cache."""

import ipaddress
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

EMAIL_WINDOW = 24 * 3600
IP_WINDOW = 3600
# With the cache unreachable the limits cannot be counted: sign-ups wait a minute rather
# than go unlimited (a mail bomb through us costs the target more than a delay costs anyone).
UNAVAILABLE_RETRY_AFTER = 60


@dataclass(frozen=True, slots=True)
class Limited(Exception):
    field: str
    retry_after: int


def address_of(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def email_hash(email: str) -> str:
    return salted_hmac("alerts.email", email.strip().lower()).hexdigest()[:32]


def _take(key: str, window: int, limit: int, now: float) -> int | None:
    """Count one in the window; the seconds until it ends if that went over `limit`."""
    start = int(now // window) * window
    key = f"{key}:{start}"
    cache.add(key, 0, window)
    if cache.incr(key) > limit:
        return max(start + window - int(now), 1)
    return None


def signup_take(*, ip: str, email: str | None) -> None:
    """Count a sign-up from `ip` (and a confirmation mail to `email`); raises Limited naming
    the field that is over its limit."""
    now = time.time()
    try:
        wait = _take(f"alerts:ip:{address_of(ip)}", IP_WINDOW, settings.ALERT_SIGNUPS_PER_IP, now)
        if wait is not None:
            raise Limited("ip", wait)
        if email is not None:
            wait = _take(
                f"alerts:email:{email_hash(email)}",
                EMAIL_WINDOW,
                settings.ALERT_SIGNUPS_PER_EMAIL,
                now,
            )
            if wait is not None:
                raise Limited("email", wait)
    except (RedisError, OSError) as exc:
        logger.warning("alert sign-up limits unavailable: %s", exc)
        raise Limited("ip", UNAVAILABLE_RETRY_AFTER) from None
