"""Public read API (also what the pages poll for live refresh) and webhook subscriptions: one
view per operation, explicit input and output serializers, the selectors the pages use.

Conventions: timestamps are ISO 8601 UTC; errors have one shape (outages/api_errors.py) and a
400 names the bad parameter in `fields`; reads carry an ETag and Cache-Control and answer
If-None-Match with 304; anonymous reads are throttled per IP, token holders per token, with
429 + Retry-After.
"""

import csv
import hashlib
import io
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.views.defaults import page_not_found
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from outages import selectors, services
from outages.models import PROBLEM_LABELS, Category, Level, Service, Subscription
from outages.regions import countries
from reports.abuse import client_ip

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------------- shared plumbing


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API (documentation only)."""

    error = serializers.CharField(help_text='a code: "invalid", "not_found", "throttled", …')
    message = serializers.CharField()

    def get_fields(self) -> dict[str, Any]:
        # A declared attribute named `fields` would shadow Serializer.fields.
        fields = super().get_fields()
        fields["fields"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text="the offending parameter or field names, each with its messages",
        )
        return fields


NOT_MODIFIED = OpenApiResponse(description="Not modified: If-None-Match matched the ETag.")


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    descriptions = {
        400: "Invalid parameter; `fields` names it.",
        401: "A token is required: `Authorization: Token <key>`.",
        404: "Not found.",
        429: "Too many requests; wait for Retry-After seconds.",
    }
    return {c: OpenApiResponse(ErrorSerializer, description=descriptions[c]) for c in codes}


def _read_responses(ok: Any, *codes: int) -> dict[Any, Any]:
    return {200: ok, 304: NOT_MODIFIED, **_errors(400, 429, *codes)}


class _FailOpenThrottle(SimpleRateThrottle):
    rate_setting = ""

    def get_rate(self) -> str:
        # Read at request time, not import time, so the environment (and tests) set it.
        return str(getattr(settings, self.rate_setting))

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except Exception:
            # Like the intake's limits: with Redis down, serve rather than fail.
            logger.warning("read throttle unavailable, allowing request", exc_info=True)
            return True


class AnonReadThrottle(_FailOpenThrottle):
    scope = "anon"
    rate_setting = "API_THROTTLE_ANON"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.auth is not None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}


class TokenThrottle(_FailOpenThrottle):
    scope = "token"
    rate_setting = "API_THROTTLE_TOKEN"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.auth is None or request.user is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class CSVRenderer(BaseRenderer):
    """Rows (a list of flat dicts) as CSV with a header; the view names the columns."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        view = (renderer_context or {}).get("view")
        columns: Sequence[str] = getattr(view, "csv_columns", ())
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in data if isinstance(data, list) else []:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return out.getvalue().encode()


class GeoJSONRenderer(JSONRenderer):
    media_type = "application/geo+json"
    format = "geojson"


class _Negotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> Any:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except Http404:
            # DRF answers an unknown ?format= with 404; it is a bad parameter.
            formats = ", ".join(r.format for r in renderers)
            raise exceptions.ValidationError({"format": [f"Must be one of: {formats}."]}) from None


class ReadApi(APIView):
    """A public read: throttled, cacheable, with a content-hash ETag."""

    throttle_classes = [AnonReadThrottle, TokenThrottle]
    content_negotiation_class = _Negotiation
    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer]

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are always JSON, even when the client asked for CSV or GeoJSON.
        renderer = getattr(self.request, "accepted_renderer", None)
        if renderer is not None and type(renderer) is not JSONRenderer:
            self.request.accepted_renderer = JSONRenderer()
            self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method not in ("GET", "HEAD") or response.status_code != 200:
            return response
        response.render()
        etag = '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
        response["ETag"] = etag
        max_age = settings.API_CACHE_MAX_AGE
        # By default clients revalidate every time (a 304 is cheap): a page polling for the
        # report it just sent must not be served its own stale copy.
        response["Cache-Control"] = f"public, max-age={max_age}" if max_age else "public, no-cache"
        patch_vary_headers(response, ["Accept"])
        conditional = get_conditional_response(request, etag=etag, response=response)
        if conditional is not None and conditional is not response:
            conditional["Cache-Control"] = response["Cache-Control"]
            patch_vary_headers(conditional, ["Accept"])
        return conditional


class TokenApi(APIView):
    """Token holders only (webhook subscriptions): throttled per token, never cached."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [TokenThrottle]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "private, no-store"
        return response


def _validate_country(value: str) -> str:
    code = value.upper()
    if code and code not in countries():
        raise serializers.ValidationError(f"Unknown country code '{value}'.")
    return code


# Timestamps outside this range are mistakes (and would overflow date arithmetic).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class TimestampField(serializers.DateTimeField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "ISO 8601; UTC unless an offset is given")
        super().__init__(default_timezone=UTC, **kwargs)

    def to_internal_value(self, value: Any) -> datetime:
        parsed = super().to_internal_value(value)
        if not EARLIEST <= parsed < LATEST:
            raise serializers.ValidationError("Must be between 2000 and 2100.")
        return parsed


def _window_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=list(selectors.WINDOWS), default="1h")


def _params(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return dict(params.validated_data)


def _format_parameter(*formats: str) -> OpenApiParameter:
    return OpenApiParameter(
        "format", str, enum=list(formats), description="response format (default json)"
    )


# --------------------------------------------------------------------------------- services


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

    @extend_schema(
        summary="List services with their current level",
        operation_id="services_list",
        parameters=[InputSerializer],
        responses=_read_responses(
            inline_serializer("ServiceList", {"services": OutputSerializer(many=True)})
        ),
    )
    def get(self, request: Request) -> Response:
        params = _params(self.InputSerializer, request)
        rows = selectors.service_statuses(
            category=params.get("category"), level=params.get("level"), search=params.get("q")
        )
        return Response({"services": self.OutputSerializer(rows, many=True).data})


class IncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
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


STATUS_WINDOW = timedelta(minutes=15)


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
        open_incidents = IncidentSerializer(many=True)

    @extend_schema(
        summary="One service: level, since when, recent reports against the expected",
        operation_id="service_detail",
        responses=_read_responses(OutputSerializer, 404),
    )
    def get(self, request: Request, slug: str) -> Response:
        row = selectors.service_row(slug=slug)
        if row is None:
            raise Http404
        now = timezone.now()
        incidents = selectors.incidents_open(service_id=row.id)
        last_15m, last_24h = selectors.report_counts(service_id=row.id, now=now)
        data = {
            "slug": row.slug,
            "name": row.name,
            "category": row.category,
            "category_label": row.category_label,
            "level": row.level,
            "since": row.since,
            "current": row.current,
            "expected": row.expected,
            "threshold": round(selectors.outage_threshold(row.expected), 2),
            "headline": selectors.headline(service=row, incidents=incidents),
            "last_15m": last_15m,
            "last_1h": selectors.report_total_last(
                service_id=row.id, now=now, span=timedelta(hours=1)
            ),
            "last_24h": last_24h,
            "open_incidents": incidents,
        }
        return Response(self.OutputSerializer(data).data)


# ------------------------------------------------------------------------------------ trend

# Without from/to, a bucket width covers this much time (the pages' ranges, and a day of 1m).
DEFAULT_SPANS = {
    "1m": timedelta(hours=6),
    "5m": timedelta(hours=6),
    "15m": timedelta(hours=24),
    "1h": timedelta(days=7),
    "1d": timedelta(days=90),
}


class BucketSerializer(serializers.Serializer):
    t = serializers.DateTimeField(help_text="start of the bucket")
    reports = serializers.IntegerField()
    expected = serializers.FloatField(
        allow_null=True, help_text="reports expected in the bucket; null without a baseline"
    )
    low = serializers.FloatField(allow_null=True, help_text="expected − 2√expected, at least 0")
    high = serializers.FloatField(allow_null=True, help_text="expected + 2√expected")
    threshold = serializers.FloatField(
        allow_null=True,
        help_text="the outage line: max(2 × expected, expected + 5), the detector's floor",
    )
    level = serializers.ChoiceField(
        choices=Level.choices,
        help_text="highest level an incident of this scope reached while open in the bucket",
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # A trend holds up to 1,440 buckets, and DRF's per-field calls cost more than the
        # query behind them; this gives what the declared fields (the schema) say.
        t = instance.t.astimezone(UTC).isoformat()
        return {
            "t": t[:-6] + "Z" if t.endswith("+00:00") else t,
            "reports": instance.reports,
            "expected": instance.expected,
            "low": instance.low,
            "high": instance.high,
            "threshold": instance.threshold,
            "level": str(instance.level),
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
            choices=list(selectors.TREND_RANGES),
            required=False,
            help_text="a chart range (6h: 5m buckets, 24h: 15m, 7d: 1h); not with from/to/bucket",
        )
        from_ = TimestampField(required=False, help_text="start (aligned down to the bucket)")
        to = TimestampField(required=False, help_text="end, exclusive; default now")
        bucket = serializers.ChoiceField(choices=list(selectors.BUCKETS), required=False)
        country = serializers.CharField(
            required=False, default="", max_length=2, help_text="ISO 3166-1 alpha-2"
        )
        problem = serializers.ChoiceField(choices=list(PROBLEM_LABELS), required=False, default="")

        def get_fields(self) -> dict[str, Any]:
            # `from` is a Python keyword; the parameter keeps its natural name.
            fields = super().get_fields()
            fields["from"] = fields.pop("from_")
            return fields

        def validate_country(self, value: str) -> str:
            return _validate_country(value)

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
        parameters=[InputSerializer, _format_parameter("json", "csv")],
        responses={
            (200, "application/json"): OutputSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
            304: NOT_MODIFIED,
            **_errors(400, 404, 429),
        },
    )
    def get(self, request: Request, slug: str) -> Response:
        params = _params(self.InputSerializer, request)
        service = get_object_or_404(Service, slug=slug)
        now = timezone.now()
        end = selectors.floor_minute(now) + timedelta(minutes=1)
        range_name = params.get("range")
        if range_name or not any(k in params for k in ("from", "to", "bucket")):
            range_name = range_name or "24h"
            span, width = selectors.TREND_RANGES[range_name]
            bucket_name = next(k for k, v in selectors.BUCKETS.items() if v == width)
            since = selectors.bucket_floor(end - timedelta(minutes=1), width) - span + width
            until = end
        else:
            bucket_name = params.get("bucket", "15m")
            width = selectors.BUCKETS[bucket_name]
            until = min(params.get("to", end), end)
            since = selectors.bucket_floor(
                params.get("from", until - DEFAULT_SPANS[bucket_name]), width
            )
            if since >= until:
                raise serializers.ValidationError({"from": ["Must be before `to` and now."]})
            count = -((since - until) // width)
            if count > selectors.MAX_BUCKETS:
                raise serializers.ValidationError(
                    {
                        "from": [
                            f"At most {selectors.MAX_BUCKETS} buckets per call; this range "
                            f"has {count} of {bucket_name}. Narrow it or use a wider bucket."
                        ]
                    }
                )
        if params["problem"] and until - since > selectors.MAX_PROBLEM_SPAN:
            raise serializers.ValidationError(
                {"problem": ["A problem series covers at most 7 days."]}
            )
        buckets = selectors.service_series(
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


# ---------------------------------------------------------------------------------- heatmaps


class RegionSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="ISO 3166-1 alpha-2 or ISO 3166-2")
    name = serializers.CharField()
    reports = serializers.IntegerField()
    expected = serializers.FloatField()
    ratio = serializers.FloatField(help_text="reports / max(expected, 3)")
    level = serializers.ChoiceField(choices=["country", "subdivision"])


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
        **_errors(400, 429, *codes),
    }


class HeatmapApi(ReadApi):
    """GET /api/v1/heatmap?window=1h: reports per country across all services."""

    renderer_classes = [JSONRenderer, GeoJSONRenderer]

    class InputSerializer(serializers.Serializer):
        window = _window_field()

    @extend_schema(
        summary="The live map: reports per country across all services",
        operation_id="heatmap",
        parameters=[InputSerializer, _format_parameter("json", "geojson")],
        responses=_heatmap_responses(
            inline_serializer(
                "WorldHeatmap",
                {"window": serializers.CharField(), "regions": RegionSerializer(many=True)},
            )
        ),
    )
    def get(self, request: Request) -> Response:
        window = _params(self.InputSerializer, request)["window"]
        rows = RegionSerializer(
            selectors.world_heatmap(window=window, now=timezone.now()), many=True
        ).data
        if request.accepted_renderer.format == "geojson":
            return Response(_geojson(rows))
        return Response({"window": window, "regions": rows})


class ServiceHeatmapApi(ReadApi):
    """GET /api/v1/services/<slug>/heatmap?window=1h&level=country|subdivision&country=US"""

    renderer_classes = [JSONRenderer, GeoJSONRenderer]

    class InputSerializer(serializers.Serializer):
        window = _window_field()
        level = serializers.ChoiceField(choices=["country", "subdivision"], default="country")
        country = serializers.CharField(
            required=False,
            default="",
            max_length=2,
            help_text="required with level=subdivision",
        )

        def validate_country(self, value: str) -> str:
            return _validate_country(value)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs["level"] == "subdivision" and not attrs["country"]:
                raise serializers.ValidationError({"country": ["Required for level=subdivision."]})
            return attrs

    @extend_schema(
        summary="Reports per country (or per subdivision of one country) against the usual",
        operation_id="service_heatmap",
        parameters=[InputSerializer, _format_parameter("json", "geojson")],
        responses=_heatmap_responses(
            inline_serializer(
                "ServiceHeatmap",
                {
                    "service": serializers.CharField(),
                    "window": serializers.CharField(),
                    "level": serializers.CharField(),
                    "country": serializers.CharField(),
                    "regions": RegionSerializer(many=True),
                },
            ),
            404,
        ),
    )
    def get(self, request: Request, slug: str) -> Response:
        data = _params(self.InputSerializer, request)
        service = get_object_or_404(Service, slug=slug)
        country = data["country"] if data["level"] == "subdivision" else ""
        rows = RegionSerializer(
            selectors.service_heatmap(
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
            }
        )


class ServiceProblemsApi(ReadApi):
    """GET /api/v1/services/<slug>/problems?window=1h: problems by share of reports."""

    class InputSerializer(serializers.Serializer):
        window = _window_field()

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
        responses=_read_responses(
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
    def get(self, request: Request, slug: str) -> Response:
        window = _params(self.InputSerializer, request)["window"]
        service = get_object_or_404(Service, slug=slug)
        rows = selectors.service_problems(service_id=service.id, window=window, now=timezone.now())
        return Response(
            {
                "service": service.slug,
                "window": window,
                "problems": self.OutputSerializer(rows, many=True).data,
            }
        )


class RegionServicesApi(ReadApi):
    """GET /api/v1/regions/<country>/services?window=1h: services reported in one country."""

    class InputSerializer(serializers.Serializer):
        window = _window_field()

    @extend_schema_serializer(component_name="RegionService")
    class OutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField()
        reports = serializers.IntegerField()
        expected = serializers.FloatField()
        ratio = serializers.FloatField()
        level = serializers.ChoiceField(choices=Level.choices)

    @extend_schema(
        summary="Services people in one country report now",
        operation_id="region_services",
        parameters=[InputSerializer],
        responses=_read_responses(
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
    def get(self, request: Request, country: str) -> Response:
        window = _params(self.InputSerializer, request)["window"]
        code = country.upper()
        if code not in countries():
            raise serializers.ValidationError({"country": [f"Unknown country code '{country}'."]})
        rows = selectors.region_services(country=code, window=window, now=timezone.now())
        return Response(
            {
                "country": code,
                "window": window,
                "services": self.OutputSerializer(rows, many=True).data,
            }
        )


# ---------------------------------------------------------------------------------- outages


class OutageOpenListApi(ReadApi):
    """GET /api/v1/outages/open: incidents open now, newest first."""

    @extend_schema(
        summary="Incidents open now",
        operation_id="outages_open",
        responses=_read_responses(
            inline_serializer("OpenOutages", {"outages": IncidentSerializer(many=True)})
        ),
    )
    def get(self, request: Request) -> Response:
        rows = selectors.incidents_open()
        return Response({"outages": IncidentSerializer(rows, many=True).data})


class OutageSerializer(serializers.Serializer):
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

    def get_url(self, obj: Any) -> str:
        return services.site_url(f"/api/v1/outages/{obj.id}")

    @extend_schema_field(serializers.ChoiceField(choices=["open", "resolved"]))
    def get_status(self, obj: Any) -> str:
        return "open" if obj.ended_at is None else "resolved"


class OutageCursorPagination(CursorPagination):
    ordering = ("-started_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500

    def decode_cursor(self, request: Request) -> Any:
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {"cursor": ["Invalid cursor: use the next or previous link as given."]}
            ) from None


class OutageListApi(ReadApi):
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
        "url",
    )

    class InputSerializer(serializers.Serializer):
        service = serializers.SlugField(required=False, help_text="a service slug")
        country = serializers.CharField(
            required=False, max_length=2, help_text="incidents scoped to this country"
        )
        status = serializers.ChoiceField(choices=["open", "resolved"], required=False)
        since = TimestampField(required=False, help_text="started at or after")
        until = TimestampField(required=False, help_text="started before")
        cursor = serializers.CharField(required=False, help_text="from a next/previous link")
        limit = serializers.IntegerField(
            required=False, min_value=1, max_value=500, help_text="page size (default 50)"
        )

        def validate_country(self, value: str) -> str:
            code = _validate_country(value)
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
        parameters=[InputSerializer, _format_parameter("json", "csv")],
        responses={
            (200, "application/json"): inline_serializer(
                "OutagePage",
                {
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": OutageSerializer(many=True),
                },
            ),
            (200, "text/csv"): OpenApiTypes.STR,
            304: NOT_MODIFIED,
            **_errors(400, 429),
        },
    )
    def get(self, request: Request) -> Response:
        params = _params(self.InputSerializer, request)
        service_id = None
        if "service" in params:
            service = Service.objects.filter(slug=params["service"].lower()).first()
            if service is None:
                raise serializers.ValidationError(
                    {"service": [f"Unknown service '{params['service']}'."]}
                )
            service_id = service.id
        qs = selectors.outage_list(
            service_id=service_id,
            country=params.get("country"),
            status=params.get("status"),
            since=params.get("since"),
            until=params.get("until"),
        )
        paginator = OutageCursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self) or []
        rows = OutageSerializer(page, many=True).data
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
class OutageRegionSerializer(serializers.Serializer):
    country = serializers.CharField()
    country_name = serializers.CharField()
    subdivision = serializers.CharField()
    subdivision_name = serializers.CharField()
    reports = serializers.IntegerField()
    expected = serializers.FloatField()
    excess = serializers.FloatField(help_text="reports above the region's usual share")


@extend_schema_serializer(component_name="OutageProblem")
class OutageProblemSerializer(serializers.Serializer):
    problem = serializers.CharField()
    name = serializers.CharField()
    reports = serializers.IntegerField()
    share = serializers.FloatField()


@extend_schema_serializer(component_name="OutageSeries")
class OutageSeriesSerializer(serializers.Serializer):
    bucket = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    buckets = BucketSerializer(many=True)


class OutageDetailApi(ReadApi):
    """GET /api/v1/outages/<id>: one incident with its regions, problems and the series
    around it."""

    @extend_schema_serializer(component_name="OutageDetail")
    class OutputSerializer(OutageSerializer):
        regions = OutageRegionSerializer(many=True)
        problems = OutageProblemSerializer(many=True)
        series = OutageSeriesSerializer()

    @extend_schema(
        summary="One incident: regions, problems and reports around it",
        operation_id="outage_detail",
        responses=_read_responses(OutputSerializer, 404),
    )
    def get(self, request: Request, outage_id: int) -> Response:
        outage = selectors.outage_get(outage_id=outage_id)
        if outage is None:
            raise Http404
        series = selectors.outage_series(outage=outage, now=timezone.now())
        data = dict(OutageSerializer(outage).data)
        data["regions"] = OutageRegionSerializer(
            selectors.outage_regions(outage=outage), many=True
        ).data
        data["problems"] = OutageProblemSerializer(
            selectors.outage_problems(outage=outage), many=True
        ).data
        data["series"] = OutageSeriesSerializer(series).data
        return Response(data)


# ---------------------------------------------------------------------------- subscriptions


class SubscriptionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    services = serializers.SerializerMethodField(help_text="slugs; empty means all services")
    countries = serializers.ListField(
        child=serializers.CharField(), help_text="ISO codes; empty means everywhere"
    )
    min_level = serializers.ChoiceField(choices=[Level.POSSIBLE, Level.OUTAGE])
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def get_services(self, obj: Subscription) -> list[str]:
        return sorted(s.slug for s in obj.services.all())


class SubscriptionWithSecretSerializer(SubscriptionOutputSerializer):
    secret = serializers.CharField(
        help_text="HMAC-SHA256 key for X-Outage-Radar-Signature; shown on creation and "
        "rotation only"
    )


class SubscriptionInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, help_text="http(s) URL that receives the POSTs")
    services = serializers.ListField(
        child=serializers.SlugField(), required=False, default=list, max_length=500
    )
    countries = serializers.ListField(
        child=serializers.CharField(max_length=2), required=False, default=list, max_length=300
    )
    min_level = serializers.ChoiceField(
        choices=[Level.POSSIBLE, Level.OUTAGE],
        default=Level.OUTAGE,
        help_text="notify about incidents that reached at least this level",
    )
    active = serializers.BooleanField(default=True)

    def validate_url(self, value: str) -> str:
        problem = services.webhook_url_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_services(self, value: list[str]) -> list[Service]:
        slugs = {v.lower() for v in value}
        found = list(Service.objects.filter(slug__in=slugs))
        unknown = slugs - {s.slug for s in found}
        if unknown:
            raise serializers.ValidationError(f"Unknown services: {', '.join(sorted(unknown))}.")
        return found

    def validate_countries(self, value: list[str]) -> list[str]:
        codes = [v.upper() for v in value]
        unknown = [c for c in codes if c not in countries()]
        if unknown:
            raise serializers.ValidationError(f"Unknown country codes: {', '.join(unknown)}.")
        return codes


class SubscriptionUpdateSerializer(SubscriptionInputSerializer):
    rotate_secret = serializers.BooleanField(
        default=False, help_text="issue a new secret (returned in the response)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, partial=True, **kwargs)


def _django_errors(exc: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else exc.messages
    )


class SubscriptionListCreateApi(TokenApi):
    """GET /api/v1/subscriptions (yours) and POST /api/v1/subscriptions (a new webhook)."""

    @extend_schema(
        summary="Your webhook subscriptions",
        operation_id="subscriptions_list",
        responses={
            200: inline_serializer(
                "SubscriptionList", {"subscriptions": SubscriptionOutputSerializer(many=True)}
            ),
            **_errors(401, 429),
        },
    )
    def get(self, request: Request) -> Response:
        rows = selectors.subscription_list(owner_id=_owner(request).pk)
        return Response({"subscriptions": SubscriptionOutputSerializer(rows, many=True).data})

    @extend_schema(
        summary="Subscribe a URL to incidents (the response holds the signing secret)",
        operation_id="subscription_create",
        request=SubscriptionInputSerializer,
        responses={201: SubscriptionWithSecretSerializer, **_errors(400, 401, 429)},
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"body": ["Expected a JSON object."]})
        params = SubscriptionInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            subscription = services.subscription_create(
                owner=_owner(request), **params.validated_data
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None
        return Response(
            SubscriptionWithSecretSerializer(subscription).data, status=status.HTTP_201_CREATED
        )


def _owner(request: Request) -> User:
    # TokenApi requires authentication, so the user is a real account.
    assert isinstance(request.user, User)
    return request.user


def _own_subscription(request: Request, subscription_id: int) -> Subscription:
    subscription = selectors.subscription_get(
        owner_id=_owner(request).pk, subscription_id=subscription_id
    )
    if subscription is None:
        raise Http404
    return subscription


class SubscriptionDetailApi(TokenApi):
    """GET, PATCH and DELETE /api/v1/subscriptions/<id>."""

    @extend_schema(
        summary="One of your subscriptions",
        operation_id="subscription_detail",
        responses={200: SubscriptionOutputSerializer, **_errors(401, 404, 429)},
    )
    def get(self, request: Request, subscription_id: int) -> Response:
        subscription = _own_subscription(request, subscription_id)
        return Response(SubscriptionOutputSerializer(subscription).data)

    @extend_schema(
        summary="Change a subscription (or rotate its secret)",
        operation_id="subscription_update",
        request=SubscriptionUpdateSerializer,
        responses={
            200: SubscriptionOutputSerializer,
            **_errors(400, 401, 404, 429),
        },
        description="With rotate_secret=true the response also holds the new `secret`.",
    )
    def patch(self, request: Request, subscription_id: int) -> Response:
        subscription = _own_subscription(request, subscription_id)
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"body": ["Expected a JSON object."]})
        params = SubscriptionUpdateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        changes = dict(params.validated_data)
        rotate = changes.pop("rotate_secret", False)
        try:
            subscription = services.subscription_update(
                subscription=subscription, rotate_secret=rotate, **changes
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None
        output = SubscriptionWithSecretSerializer if rotate else SubscriptionOutputSerializer
        return Response(output(subscription).data)

    @extend_schema(
        summary="Delete a subscription",
        operation_id="subscription_delete",
        responses={204: None, **_errors(401, 404, 429)},
    )
    def delete(self, request: Request, subscription_id: int) -> Response:
        services.subscription_delete(subscription=_own_subscription(request, subscription_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    duration_ms = serializers.IntegerField()


class DeliveryListApi(TokenApi):
    """GET /api/v1/subscriptions/<id>/deliveries: the latest deliveries and every attempt."""

    @extend_schema_serializer(component_name="WebhookDelivery")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        event = serializers.CharField()
        outage = serializers.IntegerField(source="outage_id")
        status = serializers.ChoiceField(choices=["pending", "delivered", "failed"])
        attempts = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        delivered_at = serializers.DateTimeField(allow_null=True)
        tries = WebhookAttemptSerializer(many=True, source="tries.all")

    @extend_schema(
        summary="Recent webhook deliveries of a subscription, with every attempt",
        operation_id="subscription_deliveries",
        responses={
            200: inline_serializer("DeliveryList", {"deliveries": OutputSerializer(many=True)}),
            **_errors(401, 404, 429),
        },
    )
    def get(self, request: Request, subscription_id: int) -> Response:
        subscription = _own_subscription(request, subscription_id)
        rows = selectors.delivery_list(subscription_id=subscription.id)
        return Response({"deliveries": self.OutputSerializer(rows, many=True).data})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 for paths no view matched (e.g. /api/v1/outages/-1): in the API's error
    shape under /api/, the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "not_found", "message": "Not found."}, status=404)
    return page_not_found(request, exception or Http404())
