"""The read API's counts over time and place: a service's trend against the expected count,
heatmaps of one service and of all services, a service's problems, and the services reported
in one country."""

from datetime import timedelta
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.selectors import heatmaps, problems, trends
from common.api import (
    COUNTRY_CODE_PATTERN,
    NOT_MODIFIED,
    CSVRenderer,
    GeoJSONRenderer,
    ReadApi,
    cached_read,
    country_code_field,
    errors,
    format_parameter,
    query_params,
    read_responses,
)
from common.regions import countries, country_name
from common.time import floor_minute
from outages import selectors
from outages.models import PROBLEM_LABELS, Level, Service
from reports.selectors import recoveries_open
from web.api.shared import (
    BucketSerializer,
    TimestampField,
    delayed_since_field,
    validate_country,
    window_field,
    with_delayed_since,
)
from web.summaries import delayed_since

# Without from/to, a bucket width covers this much time (the pages' ranges, and a day of 1m).
DEFAULT_SPANS = {
    "1m": timedelta(hours=6),
    "5m": timedelta(hours=6),
    "15m": timedelta(hours=24),
    "1h": timedelta(days=7),
    "1d": timedelta(days=90),
}


class ServiceTrendApi(ReadApi):
    """GET /api/v1/services/<slug>/trend: reports per bucket with the expected count, its
    usual range, the outage threshold and the incident level.

    Either `range` (the pages' charts) or `from`/`to`/`bucket`; `country` and `problem`
    narrow the series.
    """

    renderer_classes = [JSONRenderer, CSVRenderer]
    csv_columns = ("t", "reports", "expected", "low", "high", "threshold", "level")

    class InputSerializer(serializers.Serializer):
        range = serializers.ChoiceField(
            choices=list(trends.TREND_RANGES),
            required=False,
            help_text="a chart range (6h: 5m buckets, 24h: 15m, 7d: 1h); not with from/to/bucket",
        )
        from_ = TimestampField(required=False, help_text="start (aligned down to the bucket)")
        to = TimestampField(required=False, help_text="end, exclusive; default now")
        bucket = serializers.ChoiceField(choices=list(trends.BUCKETS), required=False)
        country = country_code_field(required=False, default="")
        problem = serializers.ChoiceField(choices=list(PROBLEM_LABELS), required=False, default="")

        def get_fields(self) -> dict[str, Any]:
            # `from` is a Python keyword; the parameter keeps its natural name.
            fields = super().get_fields()
            fields["from"] = fields.pop("from_")
            return fields

        def validate_country(self, value: str) -> str:
            return validate_country(value)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            custom = [k for k in ("from", "to", "bucket") if k in attrs]
            if "range" in attrs and custom:
                raise serializers.ValidationError(
                    {"range": [f"Give either range or {'/'.join(custom)}, not both."]}
                )
            return attrs

    @extend_schema_serializer(component_name="Trend")
    class OutputSerializer(serializers.Serializer):
        service = serializers.CharField()
        range = serializers.CharField(allow_null=True)
        bucket = serializers.CharField()
        bucket_minutes = serializers.IntegerField()
        # "from" is set in get_fields below.
        to = serializers.DateTimeField()
        country = serializers.CharField()
        problem = serializers.CharField()
        buckets = BucketSerializer(many=True)

        def get_fields(self) -> dict[str, Any]:
            fields = super().get_fields()
            fields["from"] = serializers.DateTimeField()
            return fields

    @extend_schema(
        summary="Reports over time against the expected count and the outage threshold",
        operation_id="service_trend",
        parameters=[InputSerializer, format_parameter("json", "csv")],
        responses={
            (200, "application/json"): OutputSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
            304: NOT_MODIFIED,
            **errors(400, 404, 429),
        },
    )
    @cached_read
    def get(self, request: Request, slug: str) -> Response:
        params = query_params(self.InputSerializer, request)
        service = get_object_or_404(Service, slug=slug)
        now = timezone.now()
        end = floor_minute(now) + timedelta(minutes=1)
        range_name = params.get("range")
        if range_name or not any(k in params for k in ("from", "to", "bucket")):
            range_name = range_name or "24h"
            since, until, width = trends.trend_window(range_name=range_name, now=now)
            bucket_name = next(k for k, v in trends.BUCKETS.items() if v == width)
        else:
            bucket_name = params.get("bucket", "15m")
            width = trends.BUCKETS[bucket_name]
            until = min(params.get("to", end), end)
            since = trends.bucket_floor(
                params.get("from", until - DEFAULT_SPANS[bucket_name]), width
            )
            if since >= until:
                raise serializers.ValidationError({"from": ["Must be before `to` and now."]})
            count = -((since - until) // width)
            if count > trends.MAX_BUCKETS:
                raise serializers.ValidationError(
                    {
                        "from": [
                            f"At most {trends.MAX_BUCKETS} buckets per call; this range "
                            f"has {count} of {bucket_name}. Narrow it or use a wider bucket."
                        ]
                    }
                )
        if params["problem"] and until - since > trends.MAX_PROBLEM_SPAN:
            raise serializers.ValidationError(
                {"problem": ["A problem series covers at most 7 days."]}
            )
        buckets = trends.service_series(
            service_id=service.id,
            since=since,
            until=until,
            bucket=width,
            now=now,
            country=params["country"],
            problem=params["problem"],
        )
        if request.accepted_renderer.format == "csv":
            return Response(BucketSerializer(buckets, many=True).data)
        return Response(
            self.OutputSerializer(
                {
                    "service": service.slug,
                    "range": range_name,
                    "bucket": bucket_name,
                    "bucket_minutes": int(width.total_seconds() // 60),
                    "from": since,
                    "to": until,
                    "country": params["country"],
                    "problem": params["problem"],
                    "buckets": buckets,
                }
            ).data
        )


class RegionSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="ISO 3166-1 alpha-2 or ISO 3166-2")
    name = serializers.CharField()
    reports = serializers.IntegerField()
    expected = serializers.FloatField()
    ratio = serializers.FloatField(help_text="reports / max(expected, 3)")
    level = serializers.ChoiceField(choices=["country", "subdivision"])


@extend_schema_serializer(component_name="RecoveryRegion")
class RecoveryRegionSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="ISO 3166-1 alpha-2 or ISO 3166-2")
    name = serializers.CharField()
    count = serializers.IntegerField(
        help_text='people who said "it works again for me" since the open incident began; '
        "never counted as reports"
    )
    level = serializers.ChoiceField(choices=["country", "subdivision"])


@extend_schema_serializer(component_name="RecoveryService")
class RecoveryServiceSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    count = serializers.IntegerField()


@extend_schema_serializer(component_name="WorldRecoveryRegion")
class WorldRecoveryRegionSerializer(RecoveryRegionSerializer):
    services = RecoveryServiceSerializer(many=True, help_text="the services, most first")


RECOVERIES_HELP = (
    "only while an incident is open: per region, how many people say it works again since "
    "the incident began, within its scope (a country incident's in that country), most first"
)


GEOJSON_RESPONSE = inline_serializer(
    "RegionFeatureCollection",
    {
        "type": serializers.ChoiceField(choices=["FeatureCollection"]),
        "features": inline_serializer(
            "RegionFeature",
            {
                "type": serializers.ChoiceField(choices=["Feature"]),
                "id": serializers.CharField(),
                "geometry": serializers.JSONField(
                    allow_null=True,
                    help_text="always null: join `id` (ISO code) to your own boundaries",
                ),
                "properties": RegionSerializer(),
            },
            many=True,
        ),
    },
)


def _geojson(rows: Any) -> dict[str, Any]:
    # Features without geometry are valid GeoJSON (RFC 7946 §3.2); we publish no boundaries,
    # so clients join the ISO code to the map they already use.
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": r["code"], "geometry": None, "properties": r} for r in rows
        ],
    }


def _heatmap_responses(ok: Any, *codes: int) -> dict[Any, Any]:
    return {
        (200, "application/json"): ok,
        (200, "application/geo+json"): GEOJSON_RESPONSE,
        304: NOT_MODIFIED,
        **errors(400, 429, *codes),
    }


class HeatmapApi(ReadApi):
    """GET /api/v1/heatmap?window=1h: reports per country across all services."""

    renderer_classes = [JSONRenderer, GeoJSONRenderer]

    class InputSerializer(serializers.Serializer):
        window = window_field()

    @extend_schema(
        summary="The live map: reports per country across all services",
        operation_id="heatmap",
        parameters=[InputSerializer, format_parameter("json", "geojson")],
        responses=_heatmap_responses(
            inline_serializer(
                "WorldHeatmap",
                {
                    "window": serializers.CharField(),
                    "regions": RegionSerializer(many=True),
                    "recoveries": WorldRecoveryRegionSerializer(
                        many=True, help_text=RECOVERIES_HELP + "; every service's together"
                    ),
                },
            )
        ),
    )
    @cached_read
    def get(self, request: Request) -> Response:
        window = query_params(self.InputSerializer, request)["window"]
        rows = RegionSerializer(
            heatmaps.world_heatmap(window=window, now=timezone.now()), many=True
        ).data
        if request.accepted_renderer.format == "geojson":
            return Response(_geojson(rows))
        recoveries = WorldRecoveryRegionSerializer(recoveries_open(), many=True).data
        return Response({"window": window, "regions": rows, "recoveries": recoveries})


class ServiceHeatmapApi(ReadApi):
    """GET /api/v1/services/<slug>/heatmap?window=1h&level=country|subdivision&country=US"""

    renderer_classes = [JSONRenderer, GeoJSONRenderer]

    class InputSerializer(serializers.Serializer):
        window = window_field()
        level = serializers.ChoiceField(choices=["country", "subdivision"], default="country")
        country = country_code_field(
            required=False,
            default="",
            help_text="ISO 3166-1 alpha-2, in any letter case; required with level=subdivision",
        )

        def validate_country(self, value: str) -> str:
            return validate_country(value)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs["level"] == "subdivision" and not attrs["country"]:
                raise serializers.ValidationError({"country": ["Required for level=subdivision."]})
            return attrs

    @extend_schema(
        summary="Reports per country (or per subdivision of one country) against the usual",
        operation_id="service_heatmap",
        parameters=[InputSerializer, format_parameter("json", "geojson")],
        responses=_heatmap_responses(
            inline_serializer(
                "ServiceHeatmap",
                {
                    "service": serializers.CharField(),
                    "window": serializers.CharField(),
                    "level": serializers.CharField(),
                    "country": serializers.CharField(),
                    "regions": RegionSerializer(many=True),
                    "recoveries": RecoveryRegionSerializer(
                        many=True,
                        help_text=RECOVERIES_HELP + " (per subdivision with level=subdivision)",
                    ),
                },
            ),
            404,
        ),
    )
    @cached_read
    def get(self, request: Request, slug: str) -> Response:
        data = query_params(self.InputSerializer, request)
        service = get_object_or_404(Service, slug=slug)
        country = data["country"] if data["level"] == "subdivision" else ""
        rows = RegionSerializer(
            heatmaps.service_heatmap(
                service_id=service.id, window=data["window"], now=timezone.now(), country=country
            ),
            many=True,
        ).data
        if request.accepted_renderer.format == "geojson":
            return Response(_geojson(rows))
        return Response(
            {
                "service": service.slug,
                "window": data["window"],
                "level": data["level"],
                "country": country,
                "regions": rows,
                "recoveries": RecoveryRegionSerializer(
                    recoveries_open(service_id=service.id, country=country), many=True
                ).data,
            }
        )


class ServiceProblemsApi(ReadApi):
    """GET /api/v1/services/<slug>/problems?window=1h: problems by share of reports."""

    class InputSerializer(serializers.Serializer):
        window = window_field()

    @extend_schema_serializer(component_name="ProblemShare")
    class OutputSerializer(serializers.Serializer):
        problem = serializers.CharField(source="code")
        name = serializers.CharField(source="label")
        reports = serializers.IntegerField()
        share = serializers.FloatField(help_text="of the service's reports in the window, 0–1")

    @extend_schema(
        summary="Most-reported problems in a window, with counts and shares",
        operation_id="service_problems",
        parameters=[InputSerializer],
        responses=read_responses(
            inline_serializer(
                "ServiceProblems",
                {
                    "service": serializers.CharField(),
                    "window": serializers.CharField(),
                    "problems": OutputSerializer(many=True),
                },
            ),
            404,
        ),
    )
    @cached_read
    def get(self, request: Request, slug: str) -> Response:
        window = query_params(self.InputSerializer, request)["window"]
        service = get_object_or_404(Service, slug=slug)
        rows = problems.service_problems(service_id=service.id, window=window, now=timezone.now())
        return Response(
            {
                "service": service.slug,
                "window": window,
                "problems": self.OutputSerializer(rows, many=True).data,
            }
        )


class ServiceJustMeApi(ReadApi):
    """GET /api/v1/services/<slug>/just-me?window=1h: for every country, the service's reports
    there against the usual, beside all services' reports there against theirs. One answer for
    everyone (cached): the page picks the visitor's country in the browser."""

    class InputSerializer(serializers.Serializer):
        window = window_field()

    @extend_schema_serializer(component_name="JustMeCountry")
    class CountrySerializer(serializers.Serializer):
        country = serializers.CharField(help_text="ISO 3166-1 alpha-2")
        name = serializers.CharField()
        reports = serializers.IntegerField(help_text="about this service, in the window")
        expected = serializers.FloatField(help_text="what this service usually gets there")
        ratio = serializers.FloatField(help_text="reports relative to usual")
        all_reports = serializers.IntegerField(help_text="about every service, in the window")
        all_expected = serializers.FloatField()
        all_ratio = serializers.FloatField(
            help_text="every service's reports there relative to usual: a network or regional "
            "problem raises many services at once"
        )

    @extend_schema(
        summary="Is it just me: the service's reports per country beside all services' there",
        operation_id="service_just_me",
        parameters=[InputSerializer],
        responses=read_responses(
            inline_serializer(
                "ServiceJustMe",
                {
                    "service": serializers.CharField(),
                    "service_name": serializers.CharField(),
                    "level": serializers.ChoiceField(choices=Level.choices),
                    "window": serializers.CharField(),
                    "countries": CountrySerializer(many=True),
                },
            ),
            404,
        ),
    )
    @cached_read
    def get(self, request: Request, slug: str) -> Response:
        window = query_params(self.InputSerializer, request)["window"]
        service = get_object_or_404(Service, slug=slug)
        now = timezone.now()
        mine = {
            r.code: r
            for r in heatmaps.service_heatmap(service_id=service.id, window=window, now=now)
        }
        everyone = {r.code: r for r in heatmaps.world_heatmap(window=window, now=now)}
        row = selectors.service_row(slug=slug)
        rows = []
        for code in sorted(set(mine) | set(everyone)):
            own, all_ = mine.get(code), everyone.get(code)
            rows.append(
                {
                    "country": code,
                    "name": country_name(code),
                    "reports": own.reports if own else 0,
                    "expected": own.expected if own else 0.0,
                    "ratio": own.ratio if own else 0.0,
                    "all_reports": all_.reports if all_ else 0,
                    "all_expected": all_.expected if all_ else 0.0,
                    "all_ratio": all_.ratio if all_ else 0.0,
                }
            )
        return Response(
            {
                "service": service.slug,
                "service_name": service.name,
                "level": row.level if row else Level.OK,
                "window": window,
                "countries": self.CountrySerializer(rows, many=True).data,
            }
        )


class RegionServicesApi(ReadApi):
    """GET /api/v1/regions/<country>/services?window=1h: services reported in one country."""

    class InputSerializer(serializers.Serializer):
        window = window_field()

    @extend_schema_serializer(component_name="RegionService")
    class OutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField()
        reports = serializers.IntegerField()
        expected = serializers.FloatField()
        ratio = serializers.FloatField()
        level = serializers.ChoiceField(choices=Level.choices)
        delayed_since = delayed_since_field()

    @extend_schema(
        summary="Services people in one country report now",
        operation_id="region_services",
        parameters=[
            OpenApiParameter(
                "country",
                str,
                OpenApiParameter.PATH,
                pattern=COUNTRY_CODE_PATTERN,
                description="ISO 3166-1 alpha-2, in any letter case",
            ),
            InputSerializer,
        ],
        responses=read_responses(
            inline_serializer(
                "RegionServices",
                {
                    "country": serializers.CharField(),
                    "window": serializers.CharField(),
                    "services": OutputSerializer(many=True),
                },
            )
        ),
    )
    @cached_read
    def get(self, request: Request, country: str) -> Response:
        window = query_params(self.InputSerializer, request)["window"]
        code = country.upper()
        if code not in countries():
            raise serializers.ValidationError({"country": [f"Unknown country code '{country}'."]})
        now = timezone.now()
        rows = heatmaps.region_services(country=code, window=window, now=now)
        delayed = delayed_since(now=now)
        return Response(
            {
                "country": code,
                "window": window,
                "services": self.OutputSerializer(
                    with_delayed_since(rows, delayed), many=True
                ).data,
            }
        )
