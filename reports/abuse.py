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
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone
from redis.exceptions import RedisError

from common.logs import warn_every
from reports.selectors import recovery_last_at, report_last_at

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
# Whether this process made claims in its own memory that the cache does not hold.
_claimed_locally = False


def _shared_or_local(kind: str, shared: Callable[[], T], fallback: Callable[[], T]) -> T:
    global _cache_down_until, _claimed_locally
    if time.monotonic() < _cache_down_until:
        _claimed_locally = True
        return fallback()
    try:
        value = shared()
    except (RedisError, OSError) as exc:
        _cache_down_until = time.monotonic() + CACHE_RETRY_AFTER
        _claimed_locally = True
        warn_every(
            log, f"abuse:{kind}", "%s: cache unavailable, limiting per process: %s", kind, exc
        )
        return fallback()
    if _claimed_locally:
        _cache_back()
    return value


def _cache_back() -> None:
    """The cache answers again after this process claimed reports without it: restart the
    intact marker, so that every process checks new claims against the stored reports for a
    dedupe window (the cache cannot know the claims made meanwhile)."""
    global _claimed_locally
    try:
        cache.set(INTACT_KEY, int(time.time()), timeout=None)
    except (RedisError, OSError):
        return
    _claimed_locally = False


def abuse_state_reset() -> None:
    """Forget the in-process fallback and try the cache at once (tests, between cases)."""
    global _cache_down_until, _claimed_locally
    _cache_down_until = 0.0
    _claimed_locally = False
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
    return not _stored_repeat(client_key=client_key, service_id=service_id, window=window)


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


# ------------------------------------------------------------------ one round trip per report

# The rate limit, the dedupe claim and the address cap of one report in one Redis call: five
# round trips were most of a single report's time. KEYS: rate, dedupe, cap, intact marker.
# ARGV: rate ttl, rate limit, dedupe window, cap ttl, cap limit (0 = off), now (epoch s).
# Returns {rate count, claimed (0/1), cap count, epoch since which the cache is intact}.
INTAKE_LUA = """
local rate = redis.call('INCR', KEYS[1])
if rate == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if rate > tonumber(ARGV[2]) then return {rate, 0, 0, '0'} end
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then return {rate, 0, 0, '0'} end
local cap = 0
if tonumber(ARGV[5]) > 0 then
  cap = redis.call('INCR', KEYS[3])
  if cap == 1 then redis.call('EXPIRE', KEYS[3], ARGV[4]) end
end
local since = redis.call('GET', KEYS[4])
if not since then
  redis.call('SET', KEYS[4], ARGV[6])
  since = ARGV[6]
end
return {rate, 1, cap, since}
"""
# The marker's key: set when the cache first holds claims, gone when it restarts empty or is
# flushed. A claim is checked against the stored reports only while the marker is younger than
# the dedupe window, since only then can the cache miss a claim made in the window.
INTACT_KEY = "dd:intact"
# Clocks of the web hosts may differ this much (seconds) without a repeat slipping through.
INTACT_MARGIN = 60


@dataclass(frozen=True, slots=True)
class IntakeClaim:
    """What the abuse controls say about one report: `retry_after` (seconds) when the address
    is over its rate limit; otherwise `first` when it is the client's first report of the
    service in the dedupe window, and `counted` when the address's cap still counts it."""

    retry_after: int | None
    first: bool
    counted: bool


_intake_script: Any = None


def _redis_client() -> Any:
    """The cache's own Redis client, or None when the cache is not Redis (development)."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    return backend._cache.get_client(write=True)


def _intake_shared(*, client: Any, ip: str, client_key: str, service_id: int) -> IntakeClaim:
    global _intake_script
    rate_window = settings.RATE_LIMIT_WINDOW
    now = time.time()
    rate_start = _window_start(rate_window, now)
    rate_key = f"rl:report:{address_of(ip)}:{rate_start}"
    cap_key, cap_ttl = _address_cap_key(ip=ip, service_id=service_id)
    window = settings.REPORT_DEDUPE_WINDOW
    if _intake_script is None:
        _intake_script = client.register_script(INTAKE_LUA)
    rate, claimed, cap, since = _intake_script(
        keys=[
            cache.make_key(rate_key),
            cache.make_key(dedupe_key(client_key=client_key, service_id=service_id)),
            cache.make_key(cap_key),
            cache.make_key(INTACT_KEY),
        ],
        args=[
            rate_window + 1,
            settings.RATE_LIMIT_REPORTS,
            window,
            cap_ttl,
            max(0, settings.REPORT_ADDRESS_LIMIT),
            int(now),
        ],
        client=client,
    )
    if int(rate) > settings.RATE_LIMIT_REPORTS:
        return IntakeClaim(max(1, int(rate_start + rate_window - now + 0.999)), False, False)
    if not int(claimed):
        return IntakeClaim(None, False, False)
    counted = settings.REPORT_ADDRESS_LIMIT <= 0 or int(cap) <= settings.REPORT_ADDRESS_LIMIT
    if now - float(since) < window + INTACT_MARGIN and _stored_repeat(
        client_key=client_key, service_id=service_id, window=window
    ):
        if settings.REPORT_ADDRESS_LIMIT > 0:
            address_cap_release(ip=ip, service_id=service_id)
        return IntakeClaim(None, False, False)
    return IntakeClaim(None, True, counted)


def _stored_repeat(*, client_key: str, service_id: int, window: int) -> bool:
    """Whether the stored reports hold this client's report of the service in the window; if
    so the claim is kept for what remains of that report's window. The claim is given back
    when the check fails, so that the client's retry is not taken for a repeat."""
    now = timezone.now()
    try:
        last = report_last_at(
            client_key=client_key, service_id=service_id, since=now - timedelta(seconds=window)
        )
    except BaseException:
        dedupe_release(client_key=client_key, service_id=service_id)
        raise
    if last is None:
        return False
    key = dedupe_key(client_key=client_key, service_id=service_id)
    remaining = max(1, int(window - (now - last).total_seconds()))
    _shared_or_local(
        "dedupe",
        lambda: cache.touch(key, timeout=remaining),
        lambda: local.touch(key, remaining),
    )
    return True


def _intake_separate(*, ip: str, client_key: str, service_id: int) -> IntakeClaim:
    """The same decisions one control at a time: without Redis, or while it is down."""
    retry_after = rate_limit_retry_after(ip=ip)
    if retry_after is not None:
        return IntakeClaim(retry_after, False, False)
    if not dedupe_claim(client_key=client_key, service_id=service_id):
        return IntakeClaim(None, False, False)
    try:
        counted = address_cap_claim(ip=ip, service_id=service_id)
    except BaseException:
        dedupe_release(client_key=client_key, service_id=service_id)
        raise
    return IntakeClaim(None, True, counted)


def intake_claim(*, ip: str, client_key: str, service_id: int) -> IntakeClaim:
    """Count a report against its address's rate limit, claim it for dedupe and the address
    cap: one Redis round trip (plus an indexed read only in the dedupe window after the cache
    came back empty, or after this process had to do without it)."""
    client = _redis_client()
    if client is None or time.monotonic() < _cache_down_until:
        return _intake_separate(ip=ip, client_key=client_key, service_id=service_id)
    return _shared_or_local(
        "intake",
        lambda: _intake_shared(client=client, ip=ip, client_key=client_key, service_id=service_id),
        lambda: _intake_separate(ip=ip, client_key=client_key, service_id=service_id),
    )


# ------------------------------------------------------------------ "it works again for me"


def recovery_claim(*, client_key: str, service_id: int, ip: str) -> tuple[bool, bool]:
    """(first, counted) for a recovery: the dedupe and the address cap of reports, on keys of
    their own (a report and a recovery of the same client are no repeats of each other).
    Recoveries are few, so a new claim always checks the stored ones."""
    window = settings.REPORT_DEDUPE_WINDOW
    key = f"rv:{service_id}:{client_key}"
    claimed = _shared_or_local(
        "dedupe",
        lambda: bool(cache.add(key, 1, timeout=window)),
        lambda: local.add(key, window),
    )
    if not claimed:
        return False, False
    now = timezone.now()
    try:
        last = recovery_last_at(
            client_key=client_key, service_id=service_id, since=now - timedelta(seconds=window)
        )
    except BaseException:
        recovery_release(client_key=client_key, service_id=service_id)
        raise
    if last is not None:
        return False, False
    limit = settings.REPORT_ADDRESS_LIMIT
    if limit <= 0:
        return True, True
    cap_key = f"rvc:{service_id}:{address_of(ip)}:{_window_start(window, time.time())}"
    count = _shared_or_local(
        "address cap",
        lambda: _cache_incr(cap_key, window + 1),
        lambda: local.incr(cap_key, window + 1),
    )
    return True, count <= limit


def recovery_release(*, client_key: str, service_id: int) -> None:
    key = f"rv:{service_id}:{client_key}"
    _shared_or_local("dedupe", lambda: cache.delete(key), lambda: local.delete(key))
