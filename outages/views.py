from datetime import timedelta

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from outages.models import Category, Service
from outages.selectors import service_list
from reports.selectors import report_count_since, report_recent_comments


def home(request: HttpRequest) -> HttpResponse:
    services = service_list()
    by_category: dict[str, list[Service]] = {}
    for service in services:
        by_category.setdefault(service.get_category_display(), []).append(service)
    return render(
        request,
        "outages/home.html",
        {"by_category": by_category, "service_count": len(services), "categories": Category},
    )


def service_detail(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_object_or_404(Service, slug=slug)
    now = timezone.now()
    context = {
        "service": service,
        "last_15m": report_count_since(service_id=service.id, since=now - timedelta(minutes=15)),
        "last_24h": report_count_since(service_id=service.id, since=now - timedelta(hours=24)),
        "comments": report_recent_comments(service_id=service.id),
    }
    return render(request, "outages/service_detail.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})
