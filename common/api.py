"""One error shape for the whole API:

    {"error": "invalid", "message": "...", "fields": {"country": ["Unknown country code 'XX'."]}}

`fields` names the offending field (for batches, "reports[3].country"); it is omitted when no
single field is at fault.

The shared plumbing of every API view, intake's and the read API's alike: that error shape and
its exception handler, strict request bodies and the schema that says so, the
throttles, the CSV and GeoJSON renderers, and the base views (a public read with its
content-hash ETag; a token holder's call, never cached).
"""

import csv
import functools
import hashlib
import io
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, JsonResponse
from django.utils import timezone, translation
from django.utils.cache import get_conditional_response, patch_vary_headers
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from redis.exceptions import RedisError
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.utils.encoders import JSONEncoder as DRFJSONEncoder
from rest_framework.views import APIView

from common.cache import cached, detection_pass_id, minute_key
from common.http import client_ip
from common.logs import warn_every
from common.text import echo_safe, field_name, query_problems

logger = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "too_large"


EMPTY_PARAMETER = "Must not be empty: leave the parameter out for its default."


def flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    # Names and messages may quote what the client sent: made encodable (error_body) so that
    # answering a lone surrogate never fails in the renderer.
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten(value, echo_safe(name)))
    elif isinstance(detail, list) and detail and all(isinstance(d, str) for d in detail):
        out[prefix or "non_field_errors"] = [echo_safe(str(d)) for d in detail]
    elif isinstance(detail, list):
        for i, value in enumerate(detail):
            if value:
                out.update(flatten(value, f"{prefix}[{i}]"))
    else:
        out[prefix or "non_field_errors"] = [echo_safe(str(detail))]
    return out


def error_body(
    *, code: str, message: str, fields: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": echo_safe(message)}
    if fields:
        body["fields"] = {
            echo_safe(name): [echo_safe(m) for m in messages] for name, messages in fields.items()
        }
    return body


def error_response(
    *,
    status_code: int,
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        error_body(code=code, message=message, fields=fields), status=status_code, headers=headers
    )


def error_json(
    *, status_code: int, code: str, message: str, fields: dict[str, list[str]] | None = None
) -> JsonResponse:
    """The same shape from plain Django views and middleware, outside DRF."""
    return JsonResponse(error_body(code=code, message=message, fields=fields), status=status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if not isinstance(exc, exceptions.APIException):
        return None
    headers: dict[str, str] = {}
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        headers["Retry-After"] = str(int(wait + 0.999))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        headers["WWW-Authenticate"] = "Token"
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten(exc.detail)
        names = ", ".join(list(fields)[:5])
        return error_response(
            status_code=exc.status_code,
            code="invalid",
            message=f"Invalid input: {names}{' …' if len(fields) > 5 else ''}.",
            fields=fields,
        )
    if isinstance(exc, exceptions.ParseError):
        return error_response(
            status_code=400,
            code="malformed_body",
            message=str(exc.detail),
            fields={"body": [str(exc.detail)]},
        )
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return error_response(
            status_code=415,
            code="unsupported_media_type",
            message=str(exc.detail) + " Send Content-Type: application/json.",
            fields={"Content-Type": [str(exc.detail)]},
        )
    code = exc.get_codes()
    return error_response(
        status_code=exc.status_code,
        code=code if isinstance(code, str) else "error",
        message=str(exc.detail),
        headers=headers,
    )


# A request body that may hold only its declared fields: an unknown one (a misspelt
# `countries`) is an error, not silently dropped. The schema says so with
# `additionalProperties: false` (AutoSchema below). A comment, not a docstring: the schema
# would take a docstring as the description of every body.
class StrictInputSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = {field_name(k): ["Unknown field."] for k in data if k not in self.fields}
            if unknown:
                raise exceptions.ValidationError(unknown)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only. DRF's BooleanField also takes "yes", "on", 1 and more, which
    the schema's boolean does not admit."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)
        raise AssertionError("unreachable")  # fail() raises


# Letter case is free: the code is upper-cased before it is checked against ISO 3166-1.
COUNTRY_CODE_PATTERN = r"^[A-Za-z]{2}$"


def country_code_field(**kwargs: Any) -> serializers.RegexField:
    kwargs.setdefault("help_text", "ISO 3166-1 alpha-2, in any letter case")
    return serializers.RegexField(COUNTRY_CODE_PATTERN, **kwargs)


def language_codes() -> list[str]:
    return [code for code, _ in settings.LANGUAGES]


def language_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "lang",
        str,
        enum=language_codes(),
        description="language of the words in the answer: sentences (headline), labels and "
        "names of problems, categories and countries (default en); codes never change",
    )


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, closing the request bodies that StrictInputSerializer
    closes, and naming every public read's `lang`."""

    def get_override_parameters(self) -> list[Any]:
        params: list[Any] = list(super().get_override_parameters())
        if isinstance(self.view, ReadApi) and self.method == "GET":
            params.append(language_parameter())
        return params

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictInputSerializer):
            schema["additionalProperties"] = False
        return schema


# gunicorn refuses a request line over its limit_request_line (4094 bytes; nginx in front,
# over 8 KiB) before the application sees it, with its own small HTML page.
REQUEST_LINE_TOO_LONG = {
    "description": "Request line (path and query) too long: refused by the server before the "
    "application, as a short HTML page.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

# common.middleware.DatabaseUnavailableMiddleware's answer, which every operation can give:
# each reads the database (the catalogue, a token, the rows it returns or stores).
UNAVAILABLE_RESPONSE = {
    "description": 'The database is unavailable (error "unavailable"); nothing was stored. '
    "Try again after Retry-After seconds.",
    "headers": {
        "Retry-After": {
            "description": "seconds to wait before trying again",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
    "content": ERROR_CONTENT,
}


def schema_postprocess(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Responses that come from below the views, documented on every operation they can answer:
    the server's 414, the 413 of reports.middleware for every request with a body, and the 503
    of a database outage."""
    too_large = {"description": "Body too large.", "content": ERROR_CONTENT}
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            responses.setdefault("414", REQUEST_LINE_TOO_LONG)
            if "requestBody" in operation:
                responses.setdefault("413", too_large)
            responses.setdefault("503", UNAVAILABLE_RESPONSE)
    return result


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


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    descriptions = {
        400: "Invalid parameter; `fields` names it.",
        401: "A token is required: `Authorization: Token <key>`.",
        404: "Not found.",
        429: "Too many requests; wait for Retry-After seconds.",
    }
    return {c: OpenApiResponse(ErrorSerializer, description=descriptions[c]) for c in codes}


def read_responses(ok: Any, *codes: int) -> dict[Any, Any]:
    return {200: ok, 304: NOT_MODIFIED, **errors(400, 429, *codes)}


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
        except (RedisError, OSError) as exc:
            # Like the intake's limits: with Redis down, serve rather than fail, and say so
            # once per interval, not once per request.
            warn_every(
                logger, "read-throttle", "read throttle unavailable, allowing requests: %s", exc
            )
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
        if request.query_params.get(self.settings.URL_FORMAT_OVERRIDE) == "":
            raise exceptions.ValidationError({"format": [EMPTY_PARAMETER]})
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

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Refused before the cache key, a lookup or an error message quotes them.
        errors = query_problems(request.query_params.lists())
        if errors:
            raise exceptions.ValidationError(errors)
        # The API is in English (unprefixed, like every URL outside the pages); ?lang= asks
        # for another of the site's languages. It is part of the query, so of the cache key.
        lang = request.query_params.get("lang")
        if lang is not None:
            if lang not in language_codes():
                raise exceptions.ValidationError(
                    {"lang": [f"Must be one of: {', '.join(language_codes())}."]}
                )
            translation.activate(lang)
        super().initial(request, *args, **kwargs)

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


def query_params(
    serializer_class: type[serializers.Serializer], request: Request
) -> dict[str, Any]:
    checked = serializer_class(data=request.query_params)
    # DRF reads `?window=` as an absent parameter and serves the default; the schema (an enum,
    # a date-time, minLength) does not admit an empty value, so neither does the API.
    empty = {
        name: [EMPTY_PARAMETER]
        for name, _ in checked.fields.items()
        if name in request.query_params and request.query_params[name] == ""
    }
    if empty:
        raise exceptions.ValidationError(empty)
    checked.is_valid(raise_exception=True)
    return dict(checked.validated_data)


def format_parameter(*formats: str) -> OpenApiParameter:
    return OpenApiParameter(
        "format", str, enum=list(formats), description="response format (default json)"
    )


@dataclass(frozen=True, slots=True)
class _CachedRead:
    data: Any
    headers: dict[str, str] | None


def cached_read(
    handler: Callable[..., Response],
) -> Callable[..., Response]:
    """A public read's answer computed once per minute and detection pass for each variant
    (host, path, query and format), however many clients ask: throttling, the ETag and 304s
    still happen per request, errors are never kept."""

    @functools.wraps(handler)
    def wrapped(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
        now = timezone.now()
        query = urlencode(sorted(request.query_params.lists()), doseq=True)
        variant = f"{request.accepted_renderer.format}:{request.get_host()}{request.path}?{query}"
        # Hashed: a path can hold anything a client sends, a cache key should not.
        digest = hashlib.sha256(variant.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        key = f"api:{minute_key(now)}:{detection_pass_id()}:{digest}"

        def compute() -> _CachedRead:
            response = handler(view, request, *args, **kwargs)
            headers = {k: v for k, v in response.items() if k == "Link"} or None
            # Plain JSON values: a serializer's ReturnDict holds the serializer itself.
            plain = json.loads(json.dumps(response.data, cls=DRFJSONEncoder))
            return _CachedRead(data=plain, headers=headers)

        read = cached(key, compute)
        return Response(read.data, headers=read.headers)

    return wrapped
