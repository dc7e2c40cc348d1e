"""The read API's events: wider problems (incidents of several services in one region opening
within minutes of each other) with their likely cause and members."""

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import ReadApi, cached_read, query_params, read_responses
from outages import selectors, webhooks
from outages.models import CauseKind, Level


@extend_schema_serializer(component_name="EventCause")
class EventCauseSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=CauseKind.choices,
        help_text="provider: a cloud, CDN, DNS or sign-in provider the members share; access: "
        "an access network of the country; region: many unrelated services in one country "
        "(its network or power); unknown",
    )
    service = serializers.CharField(
        allow_null=True, help_text="the provider's slug (provider, access)"
    )
    service_name = serializers.CharField(allow_null=True)
    has_problems = serializers.BooleanField(
        help_text="the provider has an incident of its own, in the region or worldwide"
    )
    text = serializers.CharField(help_text='in words: "likely Cloudflare, which has problems too"')


@extend_schema_serializer(component_name="EventMember")
class EventMemberSerializer(serializers.Serializer):
    outage = serializers.IntegerField(help_text="the member incident's id (/api/v1/outages/{id})")
    service = serializers.CharField()
    service_name = serializers.CharField()
    level = serializers.ChoiceField(choices=Level.choices, help_text='"ok" once resolved')
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    is_cause = serializers.BooleanField(help_text="this member is the likely cause")


@extend_schema_serializer(component_name="Event")
class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    country = serializers.CharField(help_text='"" for a worldwide event')
    status = serializers.ChoiceField(choices=["open", "ended"])
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    headline = serializers.CharField(
        help_text='"14 services with problems in Germany since 09:02 UTC"'
    )
    cause = EventCauseSerializer()
    active_members = serializers.IntegerField(help_text="members open at the last pass")
    peak_members = serializers.IntegerField(help_text="the most members open at once")
    members = EventMemberSerializer(many=True)


def _json(row: selectors.EventRow) -> dict[str, Any]:
    return selectors.event_row_json(row, url=webhooks.site_url(f"/api/v1/events/{row.id}"))


class EventListApi(ReadApi):
    """GET /api/v1/events: wider problems, newest first."""

    class InputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["open", "ended"], required=False)
        limit = serializers.IntegerField(
            required=False, min_value=1, max_value=100, help_text="how many (default 50)"
        )

    @extend_schema(
        summary="Wider problems (events), newest first",
        operation_id="events_list",
        parameters=[InputSerializer],
        responses=read_responses(
            inline_serializer("EventList", {"events": EventSerializer(many=True)})
        ),
    )
    @cached_read
    def get(self, request: Request) -> Response:
        params = query_params(self.InputSerializer, request)
        rows = selectors.event_list(status=params.get("status"), limit=params.get("limit", 50))
        return Response({"events": [_json(r) for r in rows]})


class EventDetailApi(ReadApi):
    """GET /api/v1/events/<id>: one wider problem with its cause and members."""

    @extend_schema(
        summary="One wider problem: its likely cause and member incidents",
        operation_id="event_detail",
        responses=read_responses(EventSerializer, 404),
    )
    @cached_read
    def get(self, request: Request, event_id: int) -> Response:
        row = selectors.event_get(event_id=event_id)
        if row is None:
            raise Http404
        return Response(_json(row))
