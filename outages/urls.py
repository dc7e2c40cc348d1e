from django.contrib import admin
from django.urls import include, path

from outages import views

# Unmatched /api/ paths answer in the API's error shape.
handler404 = "outages.api.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", include("reports.api_urls")),
    path("api/v1/", include("outages.api_urls")),
    path("", views.home, name="home"),
    path("map/", views.live_map, name="live_map"),
    path("region/<str:country>/", views.region, name="region"),
    path("", include("reports.urls")),
    path("<slug:slug>/", views.service_detail, name="service_detail"),
]
