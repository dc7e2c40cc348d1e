from django.contrib import admin
from django.urls import include, path

from outages import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", include("reports.api_urls")),
    path("", views.home, name="home"),
    path("", include("reports.urls")),
    path("<slug:slug>/", views.service_detail, name="service_detail"),
]
