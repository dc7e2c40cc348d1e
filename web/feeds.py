"""Atom feeds of incidents and wider problems (events), overall and per service: for feed
readers and chat integrations that poll rather than receive webhooks."""

from typing import Any

from django.contrib.syndication.views import Feed
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.feedgenerator import Atom1Feed

from common.regions import country_name
from outages import selectors
from outages.models import Event, Incident, Level, Service

FEED_ITEMS = 50


def _event_title(item: Event) -> str:
    row = selectors.event_get(event_id=item.id)
    assert row is not None
    return f"{row.headline}: {row.cause_text}"


def _event_description(item: Event) -> str:
    row = selectors.event_get(event_id=item.id)
    assert row is not None
    names = ", ".join(m.service_name for m in row.members)
    state = "ongoing" if row.ended_at is None else "over"
    return f"Wider problem, {state}: {row.cause_text}. Services: {names}."


class IncidentFeed(Feed):
    """Incidents, and the wider problems (events) they are part of, newest first."""

    feed_type = Atom1Feed

    def get_object(self, request: HttpRequest, slug: str | None = None) -> Service | None:
        return get_object_or_404(Service, slug=slug) if slug else None

    def title(self, obj: Service | None) -> str:
        return f"Incidents at {obj.name}" if obj else "Incidents"

    def link(self, obj: Service | None) -> str:
        return f"/{obj.slug}/" if obj else "/map/"

    def subtitle(self, obj: Service | None) -> str:
        return "Outages detected from user reports, and the wider problems they are part of."

    def items(self, obj: Service | None) -> list[Incident | Event]:
        incidents = list(selectors.incident_list(service_id=obj.id if obj else None)[:FEED_ITEMS])
        events = Event.objects.all()
        if obj is not None:
            events = events.filter(members__service=obj).distinct()
        both: list[Incident | Event] = [*incidents, *events.order_by("-started_at")[:FEED_ITEMS]]
        both.sort(key=lambda item: (item.started_at, isinstance(item, Event)), reverse=True)
        return both[:FEED_ITEMS]

    def item_title(self, item: Incident | Event) -> str:
        if isinstance(item, Event):
            return _event_title(item)
        where = country_name(item.country) if item.country else "worldwide"
        state = "resolved" if item.ended_at else str(Level(item.level).label).lower()
        return f"{item.service.name}: {Level(item.max_level).label} ({where}), {state}"

    def item_description(self, item: Incident | Event) -> str:
        if isinstance(item, Event):
            return _event_description(item)
        end = f"ended {item.ended_at:%Y-%m-%d %H:%M} UTC" if item.ended_at else "ongoing"
        part = f" Part of a wider problem: /events/{item.event_id}/." if item.event_id else ""
        return (
            f"Started {item.started_at:%Y-%m-%d %H:%M} UTC, {end}. Peak "
            f"{item.peak_reports:.0f} reports/min against {item.peak_expected:.1f} expected."
            f"{part}"
        )

    def item_link(self, item: Incident | Event) -> str:
        if isinstance(item, Event):
            return f"/events/{item.id}/"
        return f"/api/v1/outages/{item.id}"

    def item_guid(self, item: Incident | Event) -> str:
        return f"event-{item.id}" if isinstance(item, Event) else f"outage-{item.id}"

    def item_pubdate(self, item: Incident | Event) -> Any:
        return item.started_at

    def item_updateddate(self, item: Incident | Event) -> Any:
        return item.updated_at


class EventFeed(Feed):
    """Wider problems only, newest first."""

    feed_type = Atom1Feed
    title = "Wider problems"
    link = "/"
    subtitle = "Several services with problems in one place at once, and the likely cause."

    def items(self) -> list[Event]:
        return list(Event.objects.order_by("-started_at", "-id")[:FEED_ITEMS])

    def item_title(self, item: Event) -> str:
        return _event_title(item)

    def item_description(self, item: Event) -> str:
        return _event_description(item)

    def item_link(self, item: Event) -> str:
        return f"/events/{item.id}/"

    def item_guid(self, item: Event) -> str:
        return f"event-{item.id}"

    def item_pubdate(self, item: Event) -> Any:
        return item.started_at

    def item_updateddate(self, item: Event) -> Any:
        return item.updated_at
