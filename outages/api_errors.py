"""One error shape for the whole API:

    {"error": "invalid", "message": "...", "fields": {"country": ["Unknown country code 'XX'."]}}

`fields` names the offending field (for batches, "reports[3].country"); it is omitted when no
single field is at fault.
"""

from typing import Any

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "too_large"


def flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten(value, name))
    elif isinstance(detail, list) and detail and all(isinstance(d, str) for d in detail):
        out[prefix or "non_field_errors"] = [str(d) for d in detail]
    elif isinstance(detail, list):
        for i, value in enumerate(detail):
            if value:
                out.update(flatten(value, f"{prefix}[{i}]"))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def error_response(
    *,
    status_code: int,
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"error": code, "message": message}
    if fields:
        body["fields"] = fields
    return Response(body, status=status_code, headers=headers)


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
