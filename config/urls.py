from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path

from reports import urls as report_urls
from web import app, views
from web import urls as web_urls
from web.catalogue import javascript_catalogue
from web.languages import language_switch
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
    path("language/<str:code>/", language_switch, name="language_switch"),
    path("api/v1/", include("reports.api_urls")),
    path("api/v1/", include("web.api.urls")),
    path("api/v1/", include("alerts.api_urls")),
    # Language-neutral: data for scripts, images and oEmbed.
    path("", include(report_urls.data_urlpatterns)),
    path("", include(web_urls.neutral_urlpatterns)),
    # The pages, in English unprefixed and under /es/, /pt-br/, ... (web/languages.py).
    *i18n_patterns(
        # The scripts' words, at a URL that names their content (web/catalogue.py).
        path("jsi18n/<str:version>.js", javascript_catalogue, name="javascript_catalogue"),
        path("", include(report_urls.urlpatterns)),
        path("", include("alerts.urls")),
        # Last: its service page is a catch-all slug.
        path("", include(web_urls.urlpatterns)),
        prefix_default_language=False,
    ),
]
