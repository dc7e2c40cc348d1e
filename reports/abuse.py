"""Abuse controls of report intake: a per-address rate limit on submissions, one counted
report per client and service in the dedupe window, and a cap on the counted reports of one
address per service in that window.

Their state lives in the database beside the reports (``Claim``: on PostgreSQL an UNLOGGED
table, which writes no WAL and is emptied by a crash), so it holds across web workers and
hosts, and nothing else has to be up for a report to be judged: the controls stand or fall
with the table the report goes into. A single report of the API is judged by the statement
that stores it (``reports.services.report_accept``): one round trip, one commit. Everything
else (the form, recoveries, requests refused before they are judged) uses the functions
below, one statement each, on the same rows, so all of them share one budget.

The dedupe does not rest on the claims in the end: a new claim is checked against the stored
reports, which are the source of truth, so a claims table emptied by a crash lets no repeat
through.

A flood from one address would make every request update the same counter row, one at a
time. A process that has answered an address 429 remembers it until the window ends
(``_refused``) and answers its later requests without the database; the count could only
have grown, so the answer is the one the database would give."""

import ipaddress
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from reports.models import Claim
from reports.selectors import recovery_last_at, report_last_at

# Addresses a process remembers as refused at most; past it the memory starts again (a flood
# of distinct addresses costs the database one row update each, never this process's memory).
REFUSED_MAX_KEYS = 20_000

_refused: dict[str, float] = {}
_refused_lock = threading.Lock()

TABLE = Claim._meta.db_table

# What an insert of a row (table alias c) does when its key is there already, for a counter
# and for a claim; reports.services' one statement uses the same clauses. %(now)s is the time.
# A counter: restarted when its window has passed, else one more.
COUNTER_ON_CONFLICT = """ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN c.expires <= %(now)s THEN 1 ELSE c.count + 1 END,
    expires = CASE WHEN c.expires <= %(now)s THEN excluded.expires ELSE c.expires END"""
# A claim: taken if nobody holds it or its holder's window has passed.
CLAIM_ON_CONFLICT = """ON CONFLICT (key) DO UPDATE SET count = 1, expires = excluded.expires
  WHERE c.expires <= %(now)s"""
_ROW = f"INSERT INTO {TABLE} AS c (key, count, expires) VALUES (%(key)s, 1, %(expires)s)"
COUNT_SQL = f"{_ROW}\n{COUNTER_ON_CONFLICT}\nRETURNING count"
CLAIM_SQL = f"{_ROW}\n{CLAIM_ON_CONFLICT}\nRETURNING count"


def abuse_state_reset() -> None:
    """Forget the addresses this process remembers as refused (tests, between cases)."""
    with _refused_lock:
        _refused.clear()


def claims_expire(*, now: float | None = None) -> int:
    """Delete the claims and counters whose window has passed; returns how many."""
    moment = time.time() if now is None else now
    deleted, _ = Claim.objects.filter(expires__lte=moment).delete()
    return deleted


def _count(key: str, expires: float, now: float) -> int:
    with connection.cursor() as cursor:
        cursor.execute(COUNT_SQL, {"key": key, "expires": expires, "now": now})
        return int(cursor.fetchone()[0])


def _claim(key: str, expires: float, now: float) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL, {"key": key, "expires": expires, "now": now})
        return cursor.fetchone() is not None


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


def retry_after_of(*, window_end: float, now: float) -> int:
    """Seconds to wait until a window ends, rounded up, never 0 ("retry now" would be refused
    again)."""
    return max(1, int(window_end - now + 0.999))


@dataclass(frozen=True, slots=True)
class RateWindow:
    """The rate-limit counter of one address and scope in the current window."""

    key: str
    expires: float
    now: float


def rate_window(*, ip: str, scope: str = "report") -> RateWindow:
    window = settings.RATE_LIMIT_WINDOW
    now = time.time()
    return RateWindow(f"rl:{scope}:{address_of(ip)}", _window_start(window, now) + window, now)


def refused_until(rate: RateWindow) -> int | None:
    """Retry-After for an address this process already refused in this window, else None."""
    if _refused.get(rate.key) != rate.expires:  # none, or a window that has ended
        return None
    return retry_after_of(window_end=rate.expires, now=rate.now)


def rate_counted(rate: RateWindow, count: int) -> int | None:
    """Retry-After if ``count`` (this request's place in the window) is over the limit; the
    address is then remembered as refused until the window ends."""
    if count <= settings.RATE_LIMIT_REPORTS:
        return None
    with _refused_lock:
        if len(_refused) >= REFUSED_MAX_KEYS:
            _refused.clear()
        _refused[rate.key] = rate.expires
    return retry_after_of(window_end=rate.expires, now=rate.now)


def rate_limit_retry_after(*, ip: str, scope: str = "report") -> int | None:
    """Count this request; return seconds to wait if the address is over its limit, else None."""
    rate = rate_window(ip=ip, scope=scope)
    remembered = refused_until(rate)
    if remembered is not None:
        return remembered
    return rate_counted(rate, _count(rate.key, rate.expires, rate.now))


def dedupe_key(*, client_key: str, service_id: int) -> str:
    return f"dd:{service_id}:{client_key}"


def dedupe_claim(*, client_key: str, service_id: int) -> bool:
    """True if this is the client's first report for the service in the window. A new claim
    is checked against the stored reports (one indexed read)."""
    key = dedupe_key(client_key=client_key, service_id=service_id)
    window = settings.REPORT_DEDUPE_WINDOW
    now = time.time()
    # One transaction (the caller's, if it has one): a lookup that fails takes the claim back.
    with transaction.atomic(savepoint=False):
        if not _claim(key, now + window, now):
            return False
        return not _stored_repeat(client_key=client_key, service_id=service_id, window=window)


def address_cap_key(*, ip: str, service_id: int) -> tuple[str, float]:
    """The cap's counter and when its window ends (fixed windows of REPORT_DEDUPE_WINDOW)."""
    window = settings.REPORT_DEDUPE_WINDOW
    return f"ac:{service_id}:{address_of(ip)}", _window_start(window, time.time()) + window


def address_cap_claim(*, ip: str, service_id: int) -> bool:
    """True if a report from this address about the service may still be counted in this
    window; REPORT_ADDRESS_LIMIT 0 turns the cap off."""
    limit = settings.REPORT_ADDRESS_LIMIT
    if limit <= 0:
        return True
    key, expires = address_cap_key(ip=ip, service_id=service_id)
    return _count(key, expires, time.time()) <= limit


def _stored_repeat(*, client_key: str, service_id: int, window: int) -> bool:
    """Whether the stored reports hold this client's report of the service in the window; if
    so the claim is kept for what remains of that report's window."""
    now = timezone.now()
    last = report_last_at(
        client_key=client_key, service_id=service_id, since=now - timedelta(seconds=window)
    )
    if last is None:
        return False
    key = dedupe_key(client_key=client_key, service_id=service_id)
    Claim.objects.filter(key=key).update(expires=last.timestamp() + window)
    return True


# ------------------------------------------------------------------ "it works again for me"


def recovery_claim(*, client_key: str, service_id: int, ip: str) -> tuple[bool, bool]:
    """(first, counted) for a recovery: the dedupe and the address cap of reports, on keys of
    their own (a report and a recovery of the same client are no repeats of each other).
    A new claim is checked against the stored recoveries."""
    window = settings.REPORT_DEDUPE_WINDOW
    key = f"rv:{service_id}:{client_key}"
    now = time.time()
    moment = timezone.now()
    # One transaction (the caller's, if it has one): a lookup that fails takes the claim back.
    with transaction.atomic(savepoint=False):
        if not _claim(key, now + window, now):
            return False, False
        last = recovery_last_at(
            client_key=client_key, service_id=service_id, since=moment - timedelta(seconds=window)
        )
        if last is not None:
            return False, False
    limit = settings.REPORT_ADDRESS_LIMIT
    if limit <= 0:
        return True, True
    cap_key = f"rvc:{service_id}:{address_of(ip)}"
    return True, _count(cap_key, _window_start(window, now) + window, now) <= limit
