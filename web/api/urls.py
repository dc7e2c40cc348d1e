from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from web import feeds, redoc, views
from web.api import events, incidents, services, subscriptions, trends
from web.caching import public_page

# The viewers' own needs, on their pages only, scripts still from this site alone: Swagger UI
# draws icons from data: URIs; Redoc also injects its styles (styled-components) and runs its
# search in a worker from a blob: URL.
swagger_csp = csp_update({"img-src": ["data:"]})
redoc_csp = csp_update(
    {"img-src": ["data:"], "style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]}
)

urlpatterns = [
    path("services", services.ServiceListApi.as_view(), name="api_service_list"),
    path("services/<slug:slug>", services.ServiceDetailApi.as_view(), name="api_service_detail"),
    path("services/<slug:slug>/trend", trends.ServiceTrendApi.as_view(), name="api_service_trend"),
    path(
        "services/<slug:slug>/heatmap",
        trends.ServiceHeatmapApi.as_view(),
        name="api_service_heatmap",
    ),
    path(
        "services/<slug:slug>/just-me",
        trends.ServiceJustMeApi.as_view(),
        name="api_service_just_me",
    ),
    path(
        "services/<slug:slug>/problems",
        trends.ServiceProblemsApi.as_view(),
        name="api_service_problems",
    ),
    path(
        "services/<slug:slug>/outages.atom",
        public_page(feeds.IncidentFeed()),
        name="api_service_outage_feed",
    ),
    path("heatmap", trends.HeatmapApi.as_view(), name="api_heatmap"),
    path("outages", incidents.IncidentListApi.as_view(), name="api_outage_list"),
    path("outages/open", incidents.IncidentOpenListApi.as_view(), name="api_outages_open"),
    path("outages.atom", public_page(feeds.IncidentFeed()), name="api_outage_feed"),
    path(
        "outages/<int:outage_id>", incidents.IncidentDetailApi.as_view(), name="api_outage_detail"
    ),
    path("events", events.EventListApi.as_view(), name="api_event_list"),
    path("events.atom", public_page(feeds.EventFeed()), name="api_event_feed"),
    path("events/<int:event_id>", events.EventDetailApi.as_view(), name="api_event_detail"),
    path(
        "regions/<str:country>/services",
        trends.RegionServicesApi.as_view(),
        name="api_region_services",
    ),
    path(
        "subscriptions",
        subscriptions.SubscriptionListCreateApi.as_view(),
        name="api_subscription_list",
    ),
    path(
        "subscriptions/<int:subscription_id>",
        subscriptions.SubscriptionDetailApi.as_view(),
        name="api_subscription_detail",
    ),
    path(
        "subscriptions/<int:subscription_id>/deliveries",
        subscriptions.DeliveryListApi.as_view(),
        name="api_subscription_deliveries",
    ),
    path("schema", SpectacularAPIView.as_view(), name="api_schema"),
    # The reference as plain pages, an index and one per tag (web/api_docs.py); the
    # interactive viewers beside them.
    path("docs", views.api_docs, name="api_docs"),
    path("docs/<slug:tag>", views.api_docs_tag, name="api_docs_tag"),
    path(
        "swagger",
        swagger_csp(SpectacularSwaggerSplitView.as_view(url_name="api_schema")),
        name="api_swagger",
    ),
    path(
        "redoc",
        redoc_csp(SpectacularRedocView.as_view(url_name="api_schema")),
        name="api_redoc",
    ),
    # Its script, without the logo it would fetch from Redocly's CDN (web/redoc.py).
    path("redoc.js", redoc.redoc_script, name="api_redoc_script"),
]
