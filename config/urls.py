from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path

from web import app, views
from web.sitemaps import SITEMAPS

# Unmatched /api/ paths answer in the API's error shape.
handler404 = "web.views.not_found"

urlpatterns = [
    # ADMIN_PATH: a path of the site's own keeps the login out of every scanner's first guess.
    path(settings.ADMIN_PATH, admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("robots.txt", views.robots_txt, name="robots_txt"),
    path("manifest.webmanifest", app.manifest, name="manifest"),
    path("sw.js", app.service_worker, name="service_worker"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("api/v1/", include("reports.api_urls")),
    path("api/v1/", include("web.api.urls")),
    path("api/v1/", include("alerts.api_urls")),
    path("", include("reports.urls")),
    path("", include("alerts.urls")),
    # Last: its service page is a catch-all slug.
    path("", include("web.urls")),
]
