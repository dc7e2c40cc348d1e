from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from outages import api, feeds

urlpatterns = [
    path("services", api.ServiceListApi.as_view(), name="api_service_list"),
    path("services/<slug:slug>", api.ServiceDetailApi.as_view(), name="api_service_detail"),
    path("services/<slug:slug>/trend", api.ServiceTrendApi.as_view(), name="api_service_trend"),
    path(
        "services/<slug:slug>/heatmap",
        api.ServiceHeatmapApi.as_view(),
        name="api_service_heatmap",
    ),
    path(
        "services/<slug:slug>/problems",
        api.ServiceProblemsApi.as_view(),
        name="api_service_problems",
    ),
    path(
        "services/<slug:slug>/outages.atom",
        feeds.OutageFeed(),
        name="api_service_outage_feed",
    ),
    path("heatmap", api.HeatmapApi.as_view(), name="api_heatmap"),
    path("outages", api.OutageListApi.as_view(), name="api_outage_list"),
    path("outages/open", api.OutageOpenListApi.as_view(), name="api_outages_open"),
    path("outages.atom", feeds.OutageFeed(), name="api_outage_feed"),
    path("outages/<int:outage_id>", api.OutageDetailApi.as_view(), name="api_outage_detail"),
    path(
        "regions/<str:country>/services",
        api.RegionServicesApi.as_view(),
        name="api_region_services",
    ),
    path(
        "subscriptions",
        api.SubscriptionListCreateApi.as_view(),
        name="api_subscription_list",
    ),
    path(
        "subscriptions/<int:subscription_id>",
        api.SubscriptionDetailApi.as_view(),
        name="api_subscription_detail",
    ),
    path(
        "subscriptions/<int:subscription_id>/deliveries",
        api.DeliveryListApi.as_view(),
        name="api_subscription_deliveries",
    ),
    path("schema", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("redoc", SpectacularRedocView.as_view(url_name="api_schema"), name="api_redoc"),
]
