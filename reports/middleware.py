import io
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from common.api import error_json

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def body_limit(method: str, path: str) -> int | None:
    """The most bytes a request may send, or None where no cap of ours applies."""
    if method not in ("POST", "PUT", "PATCH") or path.startswith(f"/{settings.ADMIN_PATH}"):
        return None
    if path.rstrip("/").endswith("/reports/batch"):
        return int(settings.BATCH_MAX_BODY)
    return int(settings.REPORT_MAX_BODY)


def too_large(path: str, limit: int) -> HttpResponse:
    message = f"Request body too large: at most {limit} bytes."
    if path.startswith("/api/"):
        return error_json(
            status_code=413, code="too_large", message=message, fields={"body": [message]}
        )
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


class RequestSizeLimitMiddleware:
    """Refuse oversized bodies from Content-Length, before anything reads them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit(request.method or "", request.path)
        if limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return too_large(request.path, limit)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Django refuses to read a body above DATA_UPLOAD_MAX_MEMORY_SIZE (admin uploads).
        if isinstance(exception, RequestDataTooBig):
            return too_large(request.path, int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
        return None


class ChunkedBodyMiddleware:
    """WSGI middleware giving a chunked request body the length Django needs to read it.

    A body sent with `Transfer-Encoding: chunked` has no Content-Length. gunicorn decodes the
    chunks into wsgi.input but, having no length to give, leaves CONTENT_LENGTH unset, and
    Django reads a body of unknown length as empty: a valid report was answered "field
    required". Here such a body is read up to the path's cap (one byte more tells an
    oversized one, refused with the same 413 as a long Content-Length) and handed on with its
    length. Only where the server marks its input as ending at the body's end
    (wsgi.input_terminated, which gunicorn sets): elsewhere reading to the end could block.
    nginx in front already buffers chunked bodies into a Content-Length.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            path = environ.get("PATH_INFO", "")
            limit = body_limit(environ.get("REQUEST_METHOD", ""), path)
            if limit is None:
                limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
            body = environ["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                response = too_large(path, limit)
                start_response(
                    f"{response.status_code} {response.reason_phrase}", list(response.items())
                )
                return [response.content]
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)
