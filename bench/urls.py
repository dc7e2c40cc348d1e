"""The product's URLs plus /bench/bare: the floor of what one Django request costs here."""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


# CSRF-exempt like DRF's APIView, so the same POST bodies reach both views.
@csrf_exempt
def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("bench/bare", bare),
    path("", include("outages.urls")),
]
