from django.urls import path

from outages import api

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
    path("heatmap", api.HeatmapApi.as_view(), name="api_heatmap"),
    path("outages/open", api.OutageOpenListApi.as_view(), name="api_outages_open"),
    path(
        "regions/<str:country>/services",
        api.RegionServicesApi.as_view(),
        name="api_region_services",
    ),
]
