"""Read API for pages' live refresh (and anyone else): one view per operation, explicit
output serializers, the same selectors as the pages. Timestamps are ISO 8601 UTC."""

from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from outages import selectors
from outages.models import Level, Service
from outages.regions import countries


def _window_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=list(selectors.WINDOWS), default="1h")


class ServiceListApi(APIView):
    """GET /api/v1/services: every service with its current level."""

    class OutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField()
        category = serializers.CharField()
        level = serializers.ChoiceField(choices=Level.choices)
        since = serializers.DateTimeField(allow_null=True)
        current = serializers.FloatField(help_text="reports in the last 15 minutes")
        expected = serializers.FloatField(help_text="reports expected in the last 15 minutes")

    def get(self, request: Request) -> Response:
        rows = selectors.service_statuses()
        return Response({"services": self.OutputSerializer(rows, many=True).data})


class IncidentSerializer(serializers.Serializer):
    service = serializers.CharField(source="service_slug")
    service_name = serializers.CharField()
    country = serializers.CharField(help_text='"" for a worldwide incident')
    level = serializers.ChoiceField(choices=Level.choices)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    peak_at = serializers.DateTimeField()
    peak_reports = serializers.FloatField()
    peak_expected = serializers.FloatField()
    regions = serializers.ListField(child=serializers.CharField())
    problems = serializers.ListField(child=serializers.CharField())


class ServiceDetailApi(APIView):
    """GET /api/v1/services/<slug>: level, the status sentence and open incidents."""

    class OutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField()
        category = serializers.CharField()
        level = serializers.ChoiceField(choices=Level.choices)
        since = serializers.DateTimeField(allow_null=True)
        current = serializers.FloatField()
        expected = serializers.FloatField()
        headline = serializers.CharField()
        last_15m = serializers.IntegerField(help_text="reports counted in the last 15 minutes")
        last_24h = serializers.IntegerField()
        open_incidents = IncidentSerializer(many=True)

    def get(self, request: Request, slug: str) -> Response:
        row = selectors.service_row(slug=slug)
        if row is None:
            raise Http404
        incidents = selectors.incidents_open(service_id=row.id)
        last_15m, last_24h = selectors.report_counts(service_id=row.id, now=timezone.now())
        data = {
            "slug": row.slug,
            "name": row.name,
            "category": row.category,
            "level": row.level,
            "since": row.since,
            "current": row.current,
            "expected": row.expected,
            "headline": selectors.headline(service=row, incidents=incidents),
            "last_15m": last_15m,
            "last_24h": last_24h,
            "open_incidents": incidents,
        }
        return Response(self.OutputSerializer(data).data)


class ServiceTrendApi(APIView):
    """GET /api/v1/services/<slug>/trend?range=6h|24h|7d: reports per bucket with the
    expected count, its usual range and the outage threshold."""

    class InputSerializer(serializers.Serializer):
        range = serializers.ChoiceField(choices=list(selectors.TREND_RANGES), default="24h")

    class BucketSerializer(serializers.Serializer):
        t = serializers.DateTimeField()
        reports = serializers.IntegerField()
        expected = serializers.FloatField(allow_null=True)
        low = serializers.FloatField(allow_null=True)
        high = serializers.FloatField(allow_null=True)
        threshold = serializers.FloatField(allow_null=True)

    def get(self, request: Request, slug: str) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        service = get_object_or_404(Service, slug=slug)
        name = params.validated_data["range"]
        buckets = selectors.service_trend(
            service_id=service.id, range_name=name, now=timezone.now()
        )
        width = selectors.TREND_RANGES[name][1]
        return Response(
            {
                "service": service.slug,
                "range": name,
                "bucket_minutes": int(width.total_seconds() // 60),
                "buckets": self.BucketSerializer(buckets, many=True).data,
            }
        )


class RegionSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    reports = serializers.IntegerField()
    expected = serializers.FloatField()
    ratio = serializers.FloatField(help_text="reports / max(expected, 3)")
    level = serializers.ChoiceField(choices=["country", "subdivision"])


class HeatmapApi(APIView):
    """GET /api/v1/heatmap?window=1h: reports per country across all services."""

    class InputSerializer(serializers.Serializer):
        window = _window_field()

    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        window = params.validated_data["window"]
        rows = selectors.world_heatmap(window=window, now=timezone.now())
        return Response({"window": window, "regions": RegionSerializer(rows, many=True).data})


class ServiceHeatmapApi(APIView):
    """GET /api/v1/services/<slug>/heatmap?window=1h&level=country|subdivision&country=US"""

    class InputSerializer(serializers.Serializer):
        window = _window_field()
        level = serializers.ChoiceField(choices=["country", "subdivision"], default="country")
        country = serializers.CharField(required=False, default="", max_length=2)

        def validate_country(self, value: str) -> str:
            code = value.upper()
            if code and code not in countries():
                raise serializers.ValidationError(f"Unknown country code '{value}'.")
            return code

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs["level"] == "subdivision" and not attrs["country"]:
                raise serializers.ValidationError({"country": ["Required for level=subdivision."]})
            return attrs

    def get(self, request: Request, slug: str) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        service = get_object_or_404(Service, slug=slug)
        data = params.validated_data
        country = data["country"] if data["level"] == "subdivision" else ""
        rows = selectors.service_heatmap(
            service_id=service.id, window=data["window"], now=timezone.now(), country=country
        )
        return Response(
            {
                "service": service.slug,
                "window": data["window"],
                "level": data["level"],
                "country": country,
                "regions": RegionSerializer(rows, many=True).data,
            }
        )


class ServiceProblemsApi(APIView):
    """GET /api/v1/services/<slug>/problems?window=1h: problems by share of reports."""

    class InputSerializer(serializers.Serializer):
        window = _window_field()

    class OutputSerializer(serializers.Serializer):
        problem = serializers.CharField(source="code")
        name = serializers.CharField(source="label")
        reports = serializers.IntegerField()
        share = serializers.FloatField()

    def get(self, request: Request, slug: str) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        service = get_object_or_404(Service, slug=slug)
        window = params.validated_data["window"]
        rows = selectors.service_problems(service_id=service.id, window=window, now=timezone.now())
        return Response(
            {
                "service": service.slug,
                "window": window,
                "problems": self.OutputSerializer(rows, many=True).data,
            }
        )


class OutageOpenListApi(APIView):
    """GET /api/v1/outages/open: incidents open now, newest first."""

    def get(self, request: Request) -> Response:
        rows = selectors.incidents_open()
        return Response({"outages": IncidentSerializer(rows, many=True).data})


class RegionServicesApi(APIView):
    """GET /api/v1/regions/<country>/services?window=1h: services reported in one country."""

    class InputSerializer(serializers.Serializer):
        window = _window_field()

    class OutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField()
        reports = serializers.IntegerField()
        expected = serializers.FloatField()
        ratio = serializers.FloatField()
        level = serializers.ChoiceField(choices=Level.choices)

    def get(self, request: Request, country: str) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        code = country.upper()
        if code not in countries():
            raise serializers.ValidationError({"country": [f"Unknown country code '{country}'."]})
        window = params.validated_data["window"]
        rows = selectors.region_services(country=code, window=window, now=timezone.now())
        return Response(
            {
                "country": code,
                "window": window,
                "services": self.OutputSerializer(rows, many=True).data,
            }
        )
