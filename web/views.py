"""The site's pages. Each reads through the selectors (most of them cached per minute) and
renders; nothing here computes what the API does not also show."""

from datetime import datetime

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.formats import number_format
from django.utils.safestring import SafeString, mark_safe
from django.views.defaults import page_not_found

from analytics.selectors import heatmaps, problems, trends
from common.api import error_json
from common.regions import countries, country_choices, country_name
from outages import selectors
from outages.models import Category, Service
from outages.selectors import IncidentRow
from reports.selectors import recoveries_open, report_recent_comments
from web.api_docs import api_reference
from web.caching import public_page
from web.embeds import badge_width, embed_snippets
from web.health import readiness
from web.summaries import delayed_since, service_summary
from web.wording import alternatives_html, delayed_text, history_text, outlook_text

# Pages show the last hour on maps and in region lists: long enough to hold a few reports on
# a quiet service, short enough to show what is happening now.
PAGE_WINDOW = "1h"


def sparkline_points(values: list[int], *, width: int = 96, height: int = 24) -> str:
    """SVG polyline points for a small trend line, scaled to the series' own maximum."""
    top = max(max(values), 1)
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - 1 - (v / top) * (height - 2):.1f}" for i, v in enumerate(values)
    )


def freshness(now: datetime) -> dict[str, object]:
    """What every page with levels needs to say instead of them when detection has stopped."""
    since = delayed_since(now=now)
    return {"delayed_since": since, "delayed": delayed_text(since=since, now=now)}


def trend_table(trend: list[trends.TrendBucket]) -> SafeString:
    """The chart's text alternative, newest first, built here in one pass: a hundred rows
    through template variables and filters cost more than all of the page's queries. Every
    cell is a number or a formatted time, nothing to escape."""

    def one_decimal(value: float | None) -> str:
        return "—" if value is None else number_format(value, 1, use_l10n=True)

    # The weekday in the page's language ("Tue", "mar.", "火"), the time as everywhere.
    day = {b.t.weekday(): dateformat.format(b.t, "D") for b in trend}
    return mark_safe(  # noqa: S308 - numbers and times only, see above
        "\n".join(
            f'<tr><td><time datetime="{b.t.isoformat()}">'
            f"{day[b.t.weekday()]} {b.t:%H:%M}</time></td>"
            f"<td>{number_format(int(b.reports), force_grouping=True)}</td>"
            f"<td>{one_decimal(b.expected)}</td><td>{one_decimal(b.threshold)}</td></tr>"
            for b in reversed(trend)
        )
    )


@public_page
def home(request: HttpRequest) -> HttpResponse:
    rows = selectors.service_statuses()
    query = request.GET.get("q", "").strip()
    category = request.GET.get("category", "")
    if category not in Category.values:
        category = ""
    shown = [
        r
        for r in rows
        if (not query or query.casefold() in r.name.casefold())
        and (not category or r.category == category)
    ]
    now = timezone.now()
    spark = trends.sparklines(now=now)
    context = {
        **freshness(now),
        "events": selectors.events_open(),
        "problems_now": selectors.problems_now(rows),
        "services": [
            (r, sparkline_points(spark.get(r.id, [0] * 24)), sum(spark.get(r.id, [])))
            for r in shown
        ],
        "service_count": len(rows),
        "categories": Category.choices,
        "query": query,
        "category": category,
    }
    return render(request, "web/home.html", context)


def _outlooks(
    *, service: Service, incidents: list[IncidentRow], now: datetime
) -> list[tuple[IncidentRow, str]]:
    """Each open incident with when it is likely over, in words."""
    out = []
    for row in incidents:
        incident = selectors.incident_get(incident_id=row.id)
        if incident is None:
            continue
        out.append(
            (
                row,
                outlook_text(
                    outlook=selectors.incident_outlook(incident=incident, now=now),
                    service_name=service.name,
                    category=service.get_category_display(),
                    country_name=row.country_name,
                    now=now,
                ),
            )
        )
    return out


@public_page
def service_detail(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_object_or_404(Service, slug=slug)
    row = selectors.service_row(slug=slug)
    assert row is not None  # the service exists
    now = timezone.now()
    summary = service_summary(row=row, now=now)
    context = {
        "delayed_since": summary.delayed_since,
        "delayed": delayed_text(since=summary.delayed_since, now=now),
        "service": service,
        "row": row,
        "headline": summary.headline,
        "last_15m": summary.last_15m,
        "last_24h": summary.last_24h,
        "trend_table": trend_table(
            trends.service_trend(service_id=service.id, range_name="24h", now=now)
        ),
        "problems": problems.service_problems(service_id=service.id, window=PAGE_WINDOW, now=now),
        "regions": heatmaps.service_heatmap(service_id=service.id, window=PAGE_WINDOW, now=now)[
            :15
        ],
        "window": PAGE_WINDOW,
        "open_incidents": summary.open_incidents,
        "events": selectors.events_open(service_id=service.id),
        "official": selectors.official_status(service_id=service.id),
        "dependencies": selectors.service_dependencies(service_id=service.id),
        "dependents": selectors.service_dependents(service_id=service.id),
        "access_countries": selectors.service_access_countries(service_id=service.id),
        "outlooks": _outlooks(service=service, incidents=summary.open_incidents, now=now),
        "alternatives": [
            alternatives_html(
                others=selectors.alternatives(
                    service_id=service.id, category=service.category, country=row.country
                ),
                country_name=row.country_name,
            )
            for row in summary.open_incidents
        ],
        "us_name": country_name("US"),
        "history": history_text(
            outlook=selectors.service_outlook(service=service),
            service_name=service.name,
            category=service.get_category_display(),
        ),
        "past_incidents": selectors.incidents_past(service_id=service.id),
        "country_choices": country_choices(),
        "snippets": embed_snippets(slug=service.slug, name=service.name),
        "site_url": settings.SITE_URL,
        "badge_width": badge_width(name=service.name, level=row.level),
        "comments": report_recent_comments(service_id=service.id),
        # Where it works again, for the incident section and the map's list alike.
        "recoveries": recoveries_open(service_id=service.id) if summary.open_incidents else [],
    }
    return render(request, "web/service_detail.html", context)


@public_page
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = selectors.event_get(event_id=event_id)
    if event is None:
        raise Http404("Unknown event")
    return render(request, "web/event_detail.html", {"event": event})


@public_page
def live_map(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    open_incidents = selectors.incidents_open()
    context = {
        **freshness(now),
        "regions": heatmaps.world_heatmap(window=PAGE_WINDOW, now=now)[:20],
        "open_incidents": open_incidents,
        "recoveries": recoveries_open() if open_incidents else [],
        "recoveries_hidden": not open_incidents,
        "problems_now": selectors.problems_now(selectors.service_statuses()),
        "window": PAGE_WINDOW,
    }
    return render(request, "web/map.html", context)


@public_page
def region(request: HttpRequest, country: str) -> HttpResponse:
    code = country.upper()
    if code not in countries():
        raise Http404("Unknown country")
    now = timezone.now()
    context = {
        **freshness(now),
        "country": code,
        "country_name": country_name(code),
        "services": heatmaps.region_services(country=code, window=PAGE_WINDOW, now=now),
        "open_incidents": selectors.incidents_open(country=code),
        "window": PAGE_WINDOW,
    }
    return render(request, "web/region.html", context)


@public_page
def offline(request: HttpRequest) -> HttpResponse:
    """What the service worker shows for a page this device has never stored."""
    return render(request, "web/offline.html")


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. It touches nothing, so that a database outage does not
    get every web process restarted; whether to send traffic here is /healthz/ready's answer."""
    response = JsonResponse({"ok": True})
    response["Cache-Control"] = "no-store"
    return response


def healthz_ready(request: HttpRequest) -> JsonResponse:
    """Readiness: the database answers, the cache answers, and detection ran recently. 503
    with the failed checks named, for a load balancer to take this instance out."""
    checks = readiness(now=timezone.now())
    failed = [name for name, check in checks.items() if not check["ok"]]
    response = JsonResponse(
        {"ok": not failed, "failed": failed, "checks": checks}, status=503 if failed else 200
    )
    response["Cache-Control"] = "no-store"
    return response


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico on pages that name none (the admin's): the site's icon
    rather than a 404 in every console."""
    return HttpResponseRedirect(static("img/favicon.svg"))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 for paths no view matched (e.g. /api/v1/outages/-1): in the API's error
    shape under /api/, the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return error_json(status_code=404, code="not_found", message="Not found.")
    return page_not_found(request, exception or Http404())


@public_page
def api_docs(request: HttpRequest) -> HttpResponse:
    """The API reference's index: every operation in a line, by tag, and where each schema is."""
    ref = api_reference()
    homes = ref.home_of()
    schemas = [(s.name, homes[s.name]) for s in ref.schemas if s.name in homes]
    return render(request, "web/api_docs.html", {"ref": ref, "schemas": schemas})


@public_page
def api_docs_tag(request: HttpRequest, tag: str) -> HttpResponse:
    """One tag's operations in full, with every schema they use."""
    ref = api_reference()
    section = ref.section(tag)
    if section is None:
        raise Http404("Unknown tag")
    return render(request, "web/api_docs_tag.html", {"ref": ref, "section": section})


def robots_txt(request: HttpRequest) -> HttpResponse:
    # The API is for programs (its reference page is for people); everything else may be read.
    sitemap = settings.SITE_URL + reverse("sitemap") if settings.SITE_URL else None
    lines = [
        "User-agent: *",
        "Allow: /api/v1/docs",
        "Disallow: /api/",
        f"Sitemap: {sitemap or request.build_absolute_uri(reverse('sitemap'))}",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")
