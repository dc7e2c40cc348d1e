"""Atom feeds of incidents, overall and per service: for feed readers and chat integrations
that poll rather than receive webhooks."""

from typing import Any

from django.contrib.syndication.views import Feed
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.feedgenerator import Atom1Feed

from common.regions import country_name
from outages import selectors
from outages.models import Incident, Level, Service

FEED_ITEMS = 50


class IncidentFeed(Feed):
    feed_type = Atom1Feed

    def get_object(self, request: HttpRequest, slug: str | None = None) -> Service | None:
        return get_object_or_404(Service, slug=slug) if slug else None

    def title(self, obj: Service | None) -> str:
        return f"Incidents at {obj.name}" if obj else "Incidents"

    def link(self, obj: Service | None) -> str:
        return f"/{obj.slug}/" if obj else "/map/"

    def subtitle(self, obj: Service | None) -> str:
        return "Outages detected from user reports, newest first."

    def items(self, obj: Service | None) -> list[Incident]:
        qs = selectors.incident_list(service_id=obj.id if obj else None)
        return list(qs[:FEED_ITEMS])

    def item_title(self, item: Incident) -> str:
        where = country_name(item.country) if item.country else "worldwide"
        state = "resolved" if item.ended_at else str(Level(item.level).label).lower()
        return f"{item.service.name}: {Level(item.max_level).label} ({where}), {state}"

    def item_description(self, item: Incident) -> str:
        end = f"ended {item.ended_at:%Y-%m-%d %H:%M} UTC" if item.ended_at else "ongoing"
        return (
            f"Started {item.started_at:%Y-%m-%d %H:%M} UTC, {end}. Peak "
            f"{item.peak_reports:.0f} reports/min against {item.peak_expected:.1f} expected."
        )

    def item_link(self, item: Incident) -> str:
        return f"/api/v1/outages/{item.id}"

    def item_guid(self, item: Incident) -> str:
        return f"outage-{item.id}"

    def item_pubdate(self, item: Incident) -> Any:
        return item.started_at

    def item_updateddate(self, item: Incident) -> Any:
        return item.updated_at
