"""The read API's incidents: those open now, every incident newest first (cursor-paginated,
CSV too), and one incident with its regions, problems and the reports around it."""

from typing import Any

from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.selectors import trends
from common.api import (
    NOT_MODIFIED,
    CSVRenderer,
    ReadApi,
    cached_read,
    country_code_field,
    errors,
    format_parameter,
    query_params,
    read_responses,
)
from common.regions import country_name
from outages import selectors, webhooks
from outages.models import Level, Service
from outages.outlook import BASES
from reports.selectors import recovery_counts
from web.api.shared import (
    EARLIEST,
    LATEST,
    BucketSerializer,
    IncidentSummarySerializer,
    TimestampField,
    validate_country,
)


class IncidentOpenListApi(ReadApi):
    """GET /api/v1/outages/open: incidents open now, newest first."""

    @extend_schema(
        summary="Incidents open now",
        operation_id="outages_open",
        responses=read_responses(
            inline_serializer("OpenOutages", {"outages": IncidentSummarySerializer(many=True)})
        ),
    )
    @cached_read
    def get(self, request: Request) -> Response:
        rows = selectors.incidents_open()
        return Response({"outages": IncidentSummarySerializer(rows, many=True).data})


@extend_schema_serializer(component_name="Outage")
class IncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    service = serializers.CharField(source="service.slug")
    service_name = serializers.CharField(source="service.name")
    country = serializers.CharField(help_text='"" for a worldwide incident')
    level = serializers.ChoiceField(choices=Level.choices, help_text='"ok" once resolved')
    max_level = serializers.ChoiceField(choices=Level.choices)
    status = serializers.SerializerMethodField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    peak_at = serializers.DateTimeField()
    peak_reports = serializers.FloatField(help_text="reports per minute at the peak")
    peak_expected = serializers.FloatField(help_text="expected reports per minute at the peak")
    event = serializers.IntegerField(
        source="event_id",
        allow_null=True,
        help_text="the wider problem it is part of (/api/v1/events/{id}), or null",
    )

    def get_url(self, obj: Any) -> str:
        return webhooks.site_url(f"/api/v1/outages/{obj.id}")

    @extend_schema_field(serializers.ChoiceField(choices=["open", "resolved"]))
    def get_status(self, obj: Any) -> str:
        return "open" if obj.ended_at is None else "resolved"


class IncidentCursorPagination(CursorPagination):
    ordering = ("-started_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500

    def decode_cursor(self, request: Request) -> Any:
        invalid = exceptions.ValidationError(
            {"cursor": ["Invalid cursor: use the next or previous link as given."]}
        )
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise invalid from None
        # DRF checks the offset and direction but hands the position (the last row's
        # started_at) to the query as it came: anything but an aware timestamp would fail there.
        if cursor is not None and cursor.position is not None:
            try:
                position = parse_datetime(str(cursor.position))
            except ValueError:
                position = None
            if position is None or position.tzinfo is None or not EARLIEST <= position < LATEST:
                raise invalid
        return cursor


class IncidentListApi(ReadApi):
    """GET /api/v1/outages: incidents newest first, cursor-paginated."""

    renderer_classes = [JSONRenderer, CSVRenderer]
    csv_columns = (
        "id",
        "service",
        "service_name",
        "country",
        "level",
        "max_level",
        "status",
        "started_at",
        "ended_at",
        "peak_at",
        "peak_reports",
        "peak_expected",
        "event",
        "url",
    )

    class InputSerializer(serializers.Serializer):
        service = serializers.SlugField(required=False, help_text="a service slug")
        country = country_code_field(
            required=False, help_text="incidents scoped to this country (ISO 3166-1 alpha-2)"
        )
        status = serializers.ChoiceField(choices=["open", "resolved"], required=False)
        since = TimestampField(required=False, help_text="started at or after")
        until = TimestampField(required=False, help_text="started before")
        cursor = serializers.CharField(required=False, help_text="from a next/previous link")
        limit = serializers.IntegerField(
            required=False, min_value=1, max_value=500, help_text="page size (default 50)"
        )

        def validate_country(self, value: str) -> str:
            code = validate_country(value)
            if not code:
                raise serializers.ValidationError("Give an ISO 3166-1 alpha-2 code.")
            return code

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if "since" in attrs and "until" in attrs and attrs["since"] >= attrs["until"]:
                raise serializers.ValidationError({"since": ["Must be before `until`."]})
            return attrs

    @extend_schema(
        summary="Incidents, newest first (cursor pagination; CSV with ?format=csv)",
        operation_id="outages_list",
        parameters=[InputSerializer, format_parameter("json", "csv")],
        responses={
            (200, "application/json"): inline_serializer(
                "OutagePage",
                {
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": IncidentSerializer(many=True),
                },
            ),
            (200, "text/csv"): OpenApiTypes.STR,
            304: NOT_MODIFIED,
            **errors(400, 429),
        },
    )
    @cached_read
    def get(self, request: Request) -> Response:
        params = query_params(self.InputSerializer, request)
        service_id = None
        if "service" in params:
            service = Service.objects.filter(slug=params["service"].lower()).first()
            if service is None:
                raise serializers.ValidationError(
                    {"service": [f"Unknown service '{params['service']}'."]}
                )
            service_id = service.id
        qs = selectors.incident_list(
            service_id=service_id,
            country=params.get("country"),
            status=params.get("status"),
            since=params.get("since"),
            until=params.get("until"),
        )
        paginator = IncidentCursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self) or []
        rows = IncidentSerializer(page, many=True).data
        links = [
            f'<{url}>; rel="{rel}"'
            for url, rel in (
                (paginator.get_next_link(), "next"),
                (paginator.get_previous_link(), "prev"),
            )
            if url
        ]
        headers = {"Link": ", ".join(links)} if links else None
        if request.accepted_renderer.format == "csv":
            return Response(rows, headers=headers)
        return Response(
            {
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "results": rows,
            },
            headers=headers,
        )


@extend_schema_serializer(component_name="OutageRegion")
class IncidentRegionSerializer(serializers.Serializer):
    country = serializers.CharField()
    country_name = serializers.CharField()
    subdivision = serializers.CharField()
    subdivision_name = serializers.CharField()
    reports = serializers.IntegerField()
    expected = serializers.FloatField()
    excess = serializers.FloatField(help_text="reports above the region's usual share")


@extend_schema_serializer(component_name="OutageProblem")
class IncidentProblemSerializer(serializers.Serializer):
    problem = serializers.CharField()
    name = serializers.CharField()
    reports = serializers.IntegerField()
    share = serializers.FloatField()


@extend_schema_serializer(component_name="OutageSeries")
class IncidentSeriesSerializer(serializers.Serializer):
    bucket = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    buckets = BucketSerializer(many=True)


@extend_schema_serializer(component_name="OutageOutlook")
class OutlookSerializer(serializers.Serializer):
    """When the incident is likely over (open), or how long incidents like it last (closed):
    conformal bounds from past incidents of the closest group with enough of them."""

    basis = serializers.ChoiceField(
        choices=list(BASES),
        help_text="whose past incidents: this service in this country, this service, "
        "its category, or every service",
    )
    incidents = serializers.IntegerField(help_text="past incidents longer than the age")
    age_minutes = serializers.FloatField(help_text="how long the incident had lasted")
    half_within_minutes = serializers.FloatField(help_text="half of them lasted at most this")
    most_within_minutes = serializers.FloatField(help_text="nine in ten lasted at most this")
    half_by = serializers.DateTimeField(
        allow_null=True, help_text="open incidents: likely over by (half)"
    )
    most_by = serializers.DateTimeField(
        allow_null=True, help_text="open incidents: likely over by (nine in ten)"
    )


@extend_schema_serializer(component_name="OutageAlternative")
class AlternativeSerializer(serializers.Serializer):
    service = serializers.CharField(source="slug")
    service_name = serializers.CharField(source="name")
    url = serializers.SerializerMethodField()

    def get_url(self, obj: Any) -> str:
        return webhooks.site_url(f"/api/v1/services/{obj.slug}")


class RecoverySerializer(serializers.Serializer):
    country = serializers.CharField()
    country_name = serializers.CharField()
    count = serializers.IntegerField()


class IncidentDetailApi(ReadApi):
    """GET /api/v1/outages/<id>: one incident with its regions, problems and the series
    around it."""

    @extend_schema_serializer(component_name="OutageDetail")
    class OutputSerializer(IncidentSerializer):
        regions = IncidentRegionSerializer(many=True)
        problems = IncidentProblemSerializer(many=True)
        series = IncidentSeriesSerializer()
        outlook = OutlookSerializer(allow_null=True, help_text="null: not enough history")
        official_acknowledged_at = serializers.DateTimeField(
            allow_null=True,
            help_text="when the official status page first posted about it (null: not yet)",
        )
        official_resolved_at = serializers.DateTimeField(
            allow_null=True, help_text="when the official page said it was resolved"
        )
        alternatives = AlternativeSerializer(
            many=True,
            help_text="while open: services of the same category with no problems right now "
            "(in the incident's country, for a country incident); empty once resolved",
        )
        recoveries = RecoverySerializer(
            many=True,
            help_text='"it works again for me" by country during the incident (most first); '
            "never counted as reports",
        )

    @extend_schema(
        summary="One incident: regions, problems and reports around it",
        operation_id="outage_detail",
        responses=read_responses(OutputSerializer, 404),
    )
    @cached_read
    def get(self, request: Request, outage_id: int) -> Response:
        incident = selectors.incident_get(incident_id=outage_id)
        if incident is None:
            raise Http404
        series = trends.incident_series(incident=incident, now=timezone.now())
        data = dict(IncidentSerializer(incident).data)
        data["regions"] = IncidentRegionSerializer(
            selectors.incident_regions(incident=incident), many=True
        ).data
        data["problems"] = IncidentProblemSerializer(
            selectors.incident_problems(incident=incident), many=True
        ).data
        data["series"] = IncidentSeriesSerializer(series).data
        others = []
        if incident.ended_at is None:
            others = selectors.alternatives(
                service_id=incident.service_id,
                category=incident.service.category,
                country=incident.country,
            )
        data["alternatives"] = AlternativeSerializer(others, many=True).data
        data["official_acknowledged_at"] = incident.official_acknowledged_at
        data["official_resolved_at"] = incident.official_resolved_at
        counts = recovery_counts(
            service_id=incident.service_id,
            since=incident.started_at,
            country=incident.country,
            until=incident.ended_at,
        )
        data["recoveries"] = RecoverySerializer(
            [
                {"country": c, "country_name": country_name(c), "count": n}
                for c, n in counts.items()
            ],
            many=True,
        ).data
        data["outlook"] = webhooks.outlook_json(
            selectors.incident_outlook(incident=incident, now=timezone.now())
        )
        return Response(data)
