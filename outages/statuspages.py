"""Official status pages: fetching them defensively and reading what they say.

Fetching (`fetch`): one GET with the previous answer's validators (If-None-Match,
If-Modified-Since), a timeout per read and a deadline for the whole answer (a server that
drips a byte a second is cut off), at most STATUS_PAGE_MAX_BYTES (a huge or endless body is
cut off), and redirects followed (at most three) only to hosts that resolve to public
addresses: a page that redirects to 10.0.0.1 or localhost is refused, as a host of the
catalogue that resolves to a private address is, unless STATUS_PAGE_PRIVATE_HOSTS names it.
Every failure is a StatusPageError with a short reason, for the log and the admin.

Reading (pure functions): Atlassian Statuspage's public JSON (`/api/v2/summary.json`: the
page's indicator, components and unresolved incidents; `/api/v2/incidents.json`: the recent
incidents, resolved ones too, for acknowledgement times), and RSS 2.0 or Atom incident feeds
(the big clouds' status feeds): each entry is an incident, resolved when its title or text
says so, and the page is "minor" while an entry of the last FEED_OPEN_HOURS is not resolved
(feeds carry no severity). Anything else in an answer (malformed JSON, a document type with
entities, a wrong shape) is a StatusPageError too; the caller keeps the last good state.
"""

import email.utils
import http.client
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

from django.conf import settings
from django.utils.dateparse import parse_datetime

from common.http import non_public_address

MAX_REDIRECTS = 3
# A feed's entry is an incident still going on while it is this recent and not resolved.
FEED_OPEN_HOURS = 6
INDICATORS = ("none", "minor", "major", "critical", "maintenance")


class StatusPageError(Exception):
    """The page could not be read or understood (the reason is the message)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int  # 200 or 304
    body: bytes
    etag: str
    last_modified: str


def _address_problem(host: str, port: int) -> str | None:
    if host.lower() in settings.STATUS_PAGE_PRIVATE_HOSTS:
        return None
    return non_public_address(host, port)


def fetch(url: str, *, etag: str = "", last_modified: str = "") -> Fetched:
    """GET `url` as the module docstring says. Raises StatusPageError."""
    deadline = time.monotonic() + settings.STATUS_PAGE_DEADLINE
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StatusPageError(f"not an http(s) URL: {url[:100]}")
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        problem = _address_problem(parts.hostname, port)
        if problem:
            raise StatusPageError(problem)
        headers = {
            "User-Agent": f"{settings.SITE_NAME} status check",
            "Accept-Encoding": "identity",
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        timeout = settings.STATUS_PAGE_TIMEOUT
        connection: http.client.HTTPConnection = (
            http.client.HTTPSConnection(parts.hostname, port, timeout=timeout)
            if secure
            else http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
        )
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location") or ""
                if not location:
                    raise StatusPageError(f"HTTP {response.status} without a Location")
                url = urljoin(url, location)
                continue
            if response.status == 304:
                return Fetched(304, b"", etag, last_modified)
            if response.status != 200:
                raise StatusPageError(f"HTTP {response.status}")
            body = _read_bounded(response, deadline)
            return Fetched(
                200,
                body,
                (response.getheader("ETag") or "")[:200],
                (response.getheader("Last-Modified") or "")[:100],
            )
        except (OSError, http.client.HTTPException) as exc:
            raise StatusPageError(f"{type(exc).__name__}: {exc}"[:300]) from None
        finally:
            connection.close()
    raise StatusPageError(f"more than {MAX_REDIRECTS} redirects")


def _read_bounded(response: http.client.HTTPResponse, deadline: float) -> bytes:
    limit = settings.STATUS_PAGE_MAX_BYTES
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise StatusPageError(f"body of {declared} bytes, more than {limit}")
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise StatusPageError(f"answer took more than {settings.STATUS_PAGE_DEADLINE} s")
        chunk = response.read1(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise StatusPageError(f"body larger than {limit} bytes")
        chunks.append(chunk)


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True, slots=True)
class OfficialIncident:
    id: str
    name: str
    status: str  # investigating, identified, monitoring, resolved, ...
    impact: str  # none, minor, major, critical (Statuspage); "" for feeds
    created_at: datetime
    resolved_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "impact": self.impact,
            "created_at": self.created_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }


@dataclass(frozen=True, slots=True)
class Official:
    indicator: str
    description: str
    components: list[dict[str, str]] = field(default_factory=list)  # not operational ones
    incidents: list[OfficialIncident] = field(default_factory=list)  # newest first

    @property
    def since(self) -> datetime | None:
        """When the unresolved incidents began (the earliest), or None."""
        open_ = [
            i.created_at for i in self.incidents if i.resolved_at is None and i.status != "past"
        ]
        return min(open_) if open_ else None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise StatusPageError(f"malformed JSON: {exc}"[:300]) from None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _text(value: object, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _statuspage_incidents(items: object) -> list[OfficialIncident]:
    if not isinstance(items, list):
        raise StatusPageError("incidents is not a list")
    out = []
    for item in items[:100]:
        if not isinstance(item, dict):
            raise StatusPageError("an incident is not an object")
        created = _time(item.get("created_at")) or _time(item.get("started_at"))
        if created is None:
            raise StatusPageError("an incident without created_at")
        out.append(
            OfficialIncident(
                id=_text(item.get("id"), 64),
                name=_text(item.get("name")),
                status=_text(item.get("status"), 32),
                impact=_text(item.get("impact"), 16),
                created_at=created,
                resolved_at=_time(item.get("resolved_at")),
            )
        )
    out.sort(key=lambda i: i.created_at, reverse=True)
    return out


def parse_statuspage(summary: bytes, incidents: bytes | None = None) -> Official:
    """Atlassian Statuspage's summary.json, and its incidents.json when given."""
    data = _json(summary)
    if not isinstance(data, dict) or not isinstance(data.get("status"), dict):
        raise StatusPageError("summary.json without a status object")
    indicator = _text(data["status"].get("indicator"), 16)
    if indicator not in INDICATORS:
        raise StatusPageError(f"unknown indicator {indicator!r}")
    components = []
    for c in data.get("components") or []:
        if not isinstance(c, dict):
            raise StatusPageError("a component is not an object")
        status = _text(c.get("status"), 32)
        if status and status != "operational" and not c.get("group"):
            components.append({"name": _text(c.get("name"), 100), "status": status})
    found = {i.id: i for i in _statuspage_incidents(data.get("incidents") or [])}
    if incidents is not None:
        history = _json(incidents)
        if not isinstance(history, dict):
            raise StatusPageError("incidents.json is not an object")
        for i in _statuspage_incidents(history.get("incidents") or []):
            found.setdefault(i.id, i)
    return Official(
        indicator=indicator,
        description=_text(data["status"].get("description")),
        components=components,
        incidents=sorted(found.values(), key=lambda i: i.created_at, reverse=True),
    )


RESOLVED = re.compile(r"\bresolved\b|operating normally", re.IGNORECASE)
ATOM = "{http://www.w3.org/2005/Atom}"


def parse_feed(body: bytes, *, now: datetime) -> Official:
    """An RSS 2.0 or Atom incident feed."""
    head = body[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in body.lower():
        # Entities are how XML bombs expand; no status feed needs a document type.
        raise StatusPageError("a document type in a feed")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise StatusPageError(f"malformed XML: {exc}"[:300]) from None
    entries: list[tuple[str, str, str, datetime | None]] = []
    if root.tag == "rss":
        for item in root.iter("item"):
            entries.append(
                (
                    (item.findtext("guid") or item.findtext("link") or "").strip(),
                    (item.findtext("title") or "").strip(),
                    (item.findtext("description") or "").strip(),
                    _time((item.findtext("pubDate") or "").strip()),
                )
            )
    elif root.tag == f"{ATOM}feed":
        for entry in root.iter(f"{ATOM}entry"):
            entries.append(
                (
                    (entry.findtext(f"{ATOM}id") or "").strip(),
                    (entry.findtext(f"{ATOM}title") or "").strip(),
                    (
                        entry.findtext(f"{ATOM}summary") or entry.findtext(f"{ATOM}content") or ""
                    ).strip(),
                    _time(
                        (
                            entry.findtext(f"{ATOM}published")
                            or entry.findtext(f"{ATOM}updated")
                            or ""
                        ).strip()
                    ),
                )
            )
    else:
        raise StatusPageError(f"not an RSS or Atom feed: <{root.tag[:40]}>")
    incidents = []
    for guid, title, text, at in entries[:100]:
        if at is None:
            continue
        resolved = bool(RESOLVED.search(title) or RESOLVED.search(text[:2000]))
        incidents.append(
            OfficialIncident(
                id=(guid or title)[:64],
                name=title[:200],
                status="resolved" if resolved else "investigating",
                impact="",
                created_at=at,
                resolved_at=at if resolved else None,
            )
        )
    incidents.sort(key=lambda i: i.created_at, reverse=True)
    recent = now - timedelta(hours=FEED_OPEN_HOURS)
    going_on = [i for i in incidents if i.resolved_at is None and i.created_at >= recent]
    # Older unresolved entries are history: feeds rarely post a separate resolution.
    incidents = [
        i if i.resolved_at is not None or i.created_at >= recent else _closed(i) for i in incidents
    ]
    return Official(
        indicator="minor" if going_on else "none",
        description=going_on[0].name if going_on else "All systems operational",
        incidents=incidents,
    )


def _closed(incident: OfficialIncident) -> OfficialIncident:
    return OfficialIncident(
        incident.id, incident.name, "past", incident.impact, incident.created_at, None
    )
