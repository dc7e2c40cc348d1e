from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from common.api import error_json


def _too_large(request: HttpRequest, limit: int) -> HttpResponse:
    message = f"Request body too large: at most {limit} bytes."
    if request.path.startswith("/api/"):
        return error_json(
            status_code=413, code="too_large", message=message, fields={"body": [message]}
        )
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


class RequestSizeLimitMiddleware:
    """Refuse oversized bodies from Content-Length, before anything reads them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def limit_for(self, request: HttpRequest) -> int:
        if request.path.rstrip("/").endswith("/reports/batch"):
            return int(settings.BATCH_MAX_BODY)
        return int(settings.REPORT_MAX_BODY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        admin = f"/{settings.ADMIN_PATH}"
        if request.method in ("POST", "PUT", "PATCH") and not request.path.startswith(admin):
            limit = self.limit_for(request)
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return _too_large(request, limit)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # A chunked body has no Content-Length; Django stops reading it at the global cap.
        if isinstance(exception, RequestDataTooBig):
            return _too_large(request, int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
        return None
