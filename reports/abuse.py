"""Abuse controls of report intake: a per-address rate limit on submissions, one counted
report per client and service in the dedupe window, and a cap on the counted reports of one
address per service in that window.

Their state lives in Django's cache (Redis), so it holds across web workers. While the cache
is unreachable each process keeps the same counters in memory (`LocalCounters`, bounded), so a
Redis outage weakens the limits to "per process" instead of lifting them; the process tries
the cache again every CACHE_RETRY_AFTER seconds. The dedupe does not depend on the cache at
all in the end: a claim the cache does not know (it restarted empty, was flushed, or is down)
is checked against the stored reports, which are the source of truth."""

import ipaddress
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from redis.exceptions import RedisError

from common.logs import warn_every
from reports.selectors import report_last_at

log = logging.getLogger(__name__)

T = TypeVar("T")

# Keys the in-process fallback holds at most (a few MB). Past it the least recently used
# address or client is forgotten first: under a flood of distinct addresses that resets some
# of their counts, never the memory bound.
LOCAL_MAX_KEYS = 20_000
# Seconds a process keeps to its own counters after the cache failed, before trying it again:
# with Redis gone, every request would otherwise wait for its timeouts first.
CACHE_RETRY_AFTER = 5.0


class LocalCounters:
    """Counters and claims that expire, in this process's memory, at most `max_keys` of them.
    Thread-safe (gunicorn's gthread workers share one process)."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._items: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def _get(self, key: str, now: float) -> tuple[float, int] | None:
        item = self._items.get(key)
        if item is not None and item[0] <= now:
            del self._items[key]
            return None
        return item

    def _put(self, key: str, expires: float, value: int) -> None:
        self._items[key] = (expires, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_keys:
            self._items.popitem(last=False)

    def add(self, key: str, ttl: float) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._get(key, now) is not None:
                return False
            self._put(key, now + ttl, 1)
            return True

    def incr(self, key: str, ttl: float) -> int:
        """Add one, starting from zero with `ttl` if the key is missing; returns the count."""
        with self._lock:
            now = time.monotonic()
            expires, value = self._get(key, now) or (now + ttl, 0)
            self._put(key, expires, value + 1)
            return value + 1

    def decr(self, key: str) -> None:
        with self._lock:
            item = self._get(key, time.monotonic())
            if item is not None:
                self._put(key, item[0], item[1] - 1)

    def touch(self, key: str, ttl: float) -> None:
        with self._lock:
            now = time.monotonic()
            item = self._get(key, now)
            if item is not None:
                self._put(key, now + ttl, item[1])

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


local = LocalCounters(LOCAL_MAX_KEYS)
_cache_down_until = 0.0


def _shared_or_local(kind: str, shared: Callable[[], T], fallback: Callable[[], T]) -> T:
    global _cache_down_until
    if time.monotonic() < _cache_down_until:
        return fallback()
    try:
        return shared()
    except (RedisError, OSError) as exc:
        _cache_down_until = time.monotonic() + CACHE_RETRY_AFTER
        warn_every(
            log, f"abuse:{kind}", "%s: cache unavailable, limiting per process: %s", kind, exc
        )
        return fallback()


def abuse_state_reset() -> None:
    """Forget the in-process fallback and try the cache at once (tests, between cases)."""
    global _cache_down_until
    _cache_down_until = 0.0
    local.clear()


def _cache_incr(key: str, ttl: int) -> int:
    cache.add(key, 0, timeout=ttl)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired or evicted between the two calls
        cache.set(key, 1, timeout=ttl)
        return 1


def _cache_decr(key: str) -> None:
    try:
        cache.decr(key)
    except ValueError:  # already expired: nothing to give back
        pass


def address_of(ip: str) -> str:
    """The unit the per-address limits count: an IPv4 address, or the /64 network of an IPv6
    one (a household's or a phone's own prefix, every address of which its owner can use)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _window_start(window: int, now: float) -> int:
    return int(now // window * window)


def rate_limit_retry_after(*, ip: str, scope: str = "report") -> int | None:
    """Count this request; return seconds to wait if the address is over its limit, else None."""
    window = settings.RATE_LIMIT_WINDOW
    now = time.time()
    start = _window_start(window, now)
    key = f"rl:{scope}:{address_of(ip)}:{start}"
    count = _shared_or_local(
        "rate limit",
        lambda: _cache_incr(key, window + 1),
        lambda: local.incr(key, window + 1),
    )
    if count > settings.RATE_LIMIT_REPORTS:
        return max(1, int(start + window - now + 0.999))
    return None


def dedupe_key(*, client_key: str, service_id: int) -> str:
    return f"dd:{service_id}:{client_key}"


def dedupe_claim(*, client_key: str, service_id: int) -> bool:
    """True if this is the client's first report for the service in the window.

    A claim the cache did not hold yet costs one indexed query: the client may have reported
    before the cache restarted empty, or through another process while it was down."""
    key = dedupe_key(client_key=client_key, service_id=service_id)
    window = settings.REPORT_DEDUPE_WINDOW
    claimed = _shared_or_local(
        "dedupe",
        lambda: bool(cache.add(key, 1, timeout=window)),
        lambda: local.add(key, window),
    )
    if not claimed:
        return False
    now = timezone.now()
    try:
        last = report_last_at(
            client_key=client_key, service_id=service_id, since=now - timedelta(seconds=window)
        )
    except BaseException:
        dedupe_release(client_key=client_key, service_id=service_id)
        raise
    if last is None:
        return True
    # A repeat: the claim lasts as long as the stored report's window, not a new one.
    remaining = max(1, int(window - (now - last).total_seconds()))
    _shared_or_local(
        "dedupe",
        lambda: cache.touch(key, timeout=remaining),
        lambda: local.touch(key, remaining),
    )
    return False


def dedupe_release(*, client_key: str, service_id: int) -> None:
    key = dedupe_key(client_key=client_key, service_id=service_id)
    _shared_or_local("dedupe", lambda: cache.delete(key), lambda: local.delete(key))


def _address_cap_key(*, ip: str, service_id: int) -> tuple[str, int]:
    window = settings.REPORT_DEDUPE_WINDOW
    start = _window_start(window, time.time())
    return f"ac:{service_id}:{address_of(ip)}:{start}", window + 1


def address_cap_claim(*, ip: str, service_id: int) -> bool:
    """True if a report from this address about the service may still be counted in this
    window (fixed windows of REPORT_DEDUPE_WINDOW); REPORT_ADDRESS_LIMIT 0 turns the cap off."""
    limit = settings.REPORT_ADDRESS_LIMIT
    if limit <= 0:
        return True
    key, ttl = _address_cap_key(ip=ip, service_id=service_id)
    count = _shared_or_local(
        "address cap", lambda: _cache_incr(key, ttl), lambda: local.incr(key, ttl)
    )
    return count <= limit


def address_cap_release(*, ip: str, service_id: int) -> None:
    """Give back a claimed place (the report it was for could not be stored)."""
    if settings.REPORT_ADDRESS_LIMIT <= 0:
        return
    key, _ = _address_cap_key(ip=ip, service_id=service_id)
    _shared_or_local("address cap", lambda: _cache_decr(key), lambda: local.decr(key))
