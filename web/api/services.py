"""The read API's services: the catalogue with every service's level, and one service's
status as its page shows it."""

from datetime import timedelta

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.selectors.windows import report_total_last
from analytics.thresholds import outage_threshold
from common.api import ReadApi, cached_read, query_params, read_responses
from outages import selectors
from outages.models import Category, Level
from web.api.shared import IncidentSummarySerializer, delayed_since_field, with_delayed_since
from web.summaries import delayed_since, service_summary


class ServiceListApi(ReadApi):
    """GET /api/v1/services: every service with its current level."""

    class InputSerializer(serializers.Serializer):
        category = serializers.ChoiceField(choices=Category.choices, required=False)
        level = serializers.ChoiceField(choices=Level.choices, required=False)
        q = serializers.CharField(
            required=False, max_length=100, help_text="search in names and slugs"
        )

    @extend_schema_serializer(component_name="ServiceSummary")
    class OutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField()
        category = serializers.CharField()
        category_label = serializers.CharField()
        level = serializers.ChoiceField(choices=Level.choices)
        since = serializers.DateTimeField(allow_null=True)
        current = serializers.FloatField(help_text="reports in the last 15 minutes")
        expected = serializers.FloatField(help_text="reports expected in the last 15 minutes")
        delayed_since = delayed_since_field()

    @extend_schema(
        summary="List services with their current level",
        operation_id="services_list",
        parameters=[InputSerializer],
        responses=read_responses(
            inline_serializer("ServiceList", {"services": OutputSerializer(many=True)})
        ),
    )
    @cached_read
    def get(self, request: Request) -> Response:
        params = query_params(self.InputSerializer, request)
        rows = selectors.service_statuses(
            category=params.get("category"), level=params.get("level"), search=params.get("q")
        )
        delayed = delayed_since(now=timezone.now())
        return Response(
            {"services": self.OutputSerializer(with_delayed_since(rows, delayed), many=True).data}
        )


@extend_schema_serializer(component_name="OfficialLag")
class OfficialLagSerializer(serializers.Serializer):
    acknowledged = serializers.IntegerField(
        help_text="outage incidents the official page posted about"
    )
    unacknowledged = serializers.IntegerField(
        help_text="outage incidents since the page's history begins that it never posted"
    )
    median_minutes = serializers.FloatField(
        allow_null=True,
        help_text="from our incident's start to the page's first post (negative: page first)",
    )
    worst_minutes = serializers.FloatField(allow_null=True)


@extend_schema_serializer(component_name="OfficialStatus")
class OfficialStatusSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="the official status page")
    indicator = serializers.CharField(
        help_text='none, minor, major, critical or maintenance; "" before it was first read'
    )
    description = serializers.CharField()
    components = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text='components not operational: [{"name", "status"}]',
    )
    since = serializers.DateTimeField(allow_null=True, help_text="its open incidents began")
    sentence = serializers.CharField()
    checked_at = serializers.DateTimeField(allow_null=True, help_text="the last poll")
    good_at = serializers.DateTimeField(
        allow_null=True, help_text="the last good answer: what it says is from then"
    )
    last_error = serializers.CharField(help_text='why the last poll failed, "" if it did not')
    lag = OfficialLagSerializer()


class ServiceDetailApi(ReadApi):
    """GET /api/v1/services/<slug>: level, the status sentence, counts and open incidents."""

    @extend_schema_serializer(component_name="ServiceDetail")
    class OutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField()
        category = serializers.CharField()
        category_label = serializers.CharField()
        level = serializers.ChoiceField(choices=Level.choices)
        since = serializers.DateTimeField(allow_null=True, help_text="when the level began")
        current = serializers.FloatField(
            help_text="reports in the last 15 minutes at the last detection pass"
        )
        expected = serializers.FloatField(help_text="reports expected in those 15 minutes")
        threshold = serializers.FloatField(
            help_text="the outage line for those 15 minutes: max(2 × expected, expected + 5)"
        )
        headline = serializers.CharField()
        last_15m = serializers.IntegerField(help_text="reports counted in the last 15 minutes")
        last_1h = serializers.IntegerField(help_text="reports counted in the last hour")
        last_24h = serializers.IntegerField()
        open_incidents = IncidentSummarySerializer(many=True)
        delayed_since = delayed_since_field()
        official = OfficialStatusSerializer(
            allow_null=True,
            help_text="what the service's official status page says (null: none known)",
        )

    @extend_schema(
        summary="One service: level, since when, recent reports against the expected",
        operation_id="service_detail",
        responses=read_responses(OutputSerializer, 404),
    )
    @cached_read
    def get(self, request: Request, slug: str) -> Response:
        row = selectors.service_row(slug=slug)
        if row is None:
            raise Http404
        now = timezone.now()
        summary = service_summary(row=row, now=now)
        data = {
            "slug": row.slug,
            "name": row.name,
            "category": row.category,
            "category_label": row.category_label,
            "level": row.level,
            "since": row.since,
            "current": row.current,
            "expected": row.expected,
            "threshold": round(outage_threshold(row.expected), 2),
            "headline": summary.headline,
            "last_15m": summary.last_15m,
            "last_1h": report_total_last(service_id=row.id, now=now, span=timedelta(hours=1)),
            "last_24h": summary.last_24h,
            "open_incidents": summary.open_incidents,
            "delayed_since": summary.delayed_since,
            "official": selectors.official_status(service_id=row.id),
        }
        return Response(self.OutputSerializer(data).data)
