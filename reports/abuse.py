"""Dedupe and per-IP rate limits. State lives in Django's cache (Redis) so it holds across
web workers. When the cache is down we fail open: losing a report is worse than counting a
duplicate, and the rollup's per-client dedupe can be tightened later from the raw rows."""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def rate_limit_retry_after(*, ip: str, scope: str = "report") -> int | None:
    """Count this request; return seconds to wait if the IP is over its limit, else None."""
    window = settings.RATE_LIMIT_WINDOW
    now = time.time()
    window_start = int(now // window * window)
    key = f"rl:{scope}:{ip}:{window_start}"
    try:
        cache.add(key, 0, timeout=window + 1)
        count = cache.incr(key)
    except (RedisError, OSError, ValueError) as exc:
        log.warning("rate limit unavailable, allowing request: %s", exc)
        return None
    if count > settings.RATE_LIMIT_REPORTS:
        return max(1, int(window_start + window - now + 0.999))
    return None


def dedupe_key(*, client_key: str, service_id: int) -> str:
    return f"dd:{service_id}:{client_key}"


def dedupe_claim(*, client_key: str, service_id: int) -> bool:
    """True if this is the client's first report for the service in the window."""
    try:
        return bool(
            cache.add(
                dedupe_key(client_key=client_key, service_id=service_id),
                1,
                timeout=settings.REPORT_DEDUPE_WINDOW,
            )
        )
    except (RedisError, OSError) as exc:
        log.warning("dedupe unavailable, counting report: %s", exc)
        return True


def dedupe_release(*, client_key: str, service_id: int) -> None:
    try:
        cache.delete(dedupe_key(client_key=client_key, service_id=service_id))
    except (RedisError, OSError) as exc:
        log.warning("dedupe release failed: %s", exc)
