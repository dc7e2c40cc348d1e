"""The product's URLs plus the bare references: the floor of what one Django request, and one
DRF request, costs here."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler404 as handler404
from config.urls import urlpatterns as product_urlpatterns


# CSRF-exempt like DRF's APIView, so the same POST bodies reach both views.
@csrf_exempt
def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


class BareApi(APIView):
    """A DRF view with the project's default DRF settings (authentication, renderer,
    exception handler) and no work of its own."""

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


# The product's patterns themselves, not include()d: Django refuses language-prefixed
# patterns (i18n_patterns) anywhere but at the root.
urlpatterns = [
    path("bench/bare", bare),
    path("bench/bare-drf", BareApi.as_view()),
    *product_urlpatterns,
]
