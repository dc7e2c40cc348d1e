"""The page cache: heavier reads are computed once per key (in practice once per minute, the
key naming the minute they describe) however many people load the page, with a lock so that
the first second of a minute during a flood does not compute the same thing once per visitor.
The cache is an optimisation only: with Redis down every request computes."""

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from django.core.cache import cache
from redis.exceptions import RedisError

from common.logs import warn_every
from common.time import floor_minute

# Pages and the API cache their reads this long; the rollup runs once a minute anyway.
CACHE_TTL = 60
# A missing key is computed by one request; others wait this long for it (seconds), polling.
# The lock outlives no computation that a page should take.
STAMPEDE_WAIT = 3.0
STAMPEDE_POLL = 0.02
STAMPEDE_LOCK_TTL = 10

T = TypeVar("T")

logger = logging.getLogger(__name__)


def cached(key: str, compute: Callable[[], T], ttl: int = CACHE_TTL) -> T:
    """compute() once per key while the key lives. With the cache down, pages still work
    (each request computes), which matters most exactly when everything else is failing.

    When a key is missing, one request computes it and the others arriving meanwhile wait for
    its result (up to STAMPEDE_WAIT, then compute themselves): at the first second of a minute
    during a flood, every visitor of the home page would otherwise compute the same thing."""
    try:
        value: T | None = cache.get(key)
    except (RedisError, OSError) as exc:
        warn_every(logger, "cache read", "cache read failed, computing %s: %s", key, exc)
        return compute()
    if value is not None:
        return value
    lock = f"lock:{key}"
    try:
        mine = cache.add(lock, 1, STAMPEDE_LOCK_TTL)
    except (RedisError, OSError):
        mine = True
    if not mine:
        deadline = time.monotonic() + STAMPEDE_WAIT
        while time.monotonic() < deadline:
            time.sleep(STAMPEDE_POLL)
            try:
                # The lock first: a result stored between the two reads is then still found.
                held = cache.get(lock)
                value = cache.get(key)
            except (RedisError, OSError):
                break
            if value is not None:
                return value
            if held is None:
                break  # it finished without a result to share (an error): compute
    try:
        value = compute()
        try:
            cache.set(key, value, ttl)
        except (RedisError, OSError) as exc:
            warn_every(logger, "cache write", "cache write failed for %s: %s", key, exc)
    finally:
        if mine:
            try:
                cache.delete(lock)
            except (RedisError, OSError) as exc:
                warn_every(logger, "cache unlock", "cache lock release failed for %s: %s", key, exc)
    return value


def minute_key(now: datetime) -> str:
    return floor_minute(now).strftime("%Y%m%d%H%M")


# When the last detection pass ended: whole cached pages are keyed by it as well as by the
# minute, so an incident a pass opens is on every page as soon as the pass is over. The value
# starts with the time the pass describes, so that readers also know how old the data is.
DETECTION_PASS_KEY = "detection:last-pass"


# Each process reads the pass id at most this often (seconds): a cached page then costs one
# round trip to Redis instead of two, and shows a pass at most this much later.
DETECTION_PASS_MEMO = 1.0
_pass_memo: tuple[float, str] = (0.0, "0")


def detection_pass_mark(*, at: datetime) -> None:
    """A new id for the pass that has just ended (two passes of one minute differ too), made
    of the time it describes and a random part."""
    global _pass_memo
    value = f"{at.timestamp():.3f}-{uuid.uuid4().hex}"
    _pass_memo = (time.monotonic() + DETECTION_PASS_MEMO, value)
    try:
        cache.set(DETECTION_PASS_KEY, value, None)
    except (RedisError, OSError) as exc:
        warn_every(logger, "pass mark", "could not mark the detection pass: %s", exc)


def detection_pass_id() -> str:
    global _pass_memo
    expires, value = _pass_memo
    if time.monotonic() < expires:
        return value
    try:
        value = str(cache.get(DETECTION_PASS_KEY) or "0")
    except (RedisError, OSError):
        return "0"
    _pass_memo = (time.monotonic() + DETECTION_PASS_MEMO, value)
    return value


def detection_pass_at() -> datetime | None:
    """The time the last pass described, from its mark; None without a readable mark (the
    cache down or flushed, or a cache of its own per process, as in the embedded default)."""
    stamp, sep, _ = detection_pass_id().partition("-")
    if not sep:
        return None
    try:
        return datetime.fromtimestamp(float(stamp), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def cache_ping() -> bool:
    """Whether the cache stores and returns a value now (readiness)."""
    value = uuid.uuid4().hex
    key = f"health:ping:{value}"  # one of its own: concurrent checks cannot see each other's
    try:
        cache.set(key, value, 10)
        found = cache.get(key)
        cache.delete(key)
        return bool(found == value)
    except (RedisError, OSError) as exc:
        warn_every(logger, "cache ping", "cache ping failed: %s", exc)
        return False
