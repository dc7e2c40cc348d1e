"""The sitemap (/sitemap.xml, linked from /robots.txt): the pages worth a search engine's
visit — home, the live map, every service and every country, the API reference."""

from django.contrib.sitemaps import Sitemap
from django.db.models import QuerySet
from django.urls import reverse

from common.regions import countries
from outages.models import Service
from web.api_docs import api_reference


class PageSitemap(Sitemap[str]):
    changefreq = "always"
    # Every page in every language, each with its alternates (hreflang) and English as the
    # x-default (Django writes them from settings.LANGUAGES).
    i18n = True
    alternates = True
    x_default = True

    def items(self) -> list[str]:
        return ["home", "live_map"]

    def location(self, item: str) -> str:
        return reverse(item)


class ServiceSitemap(Sitemap[Service]):
    changefreq = "always"
    i18n = True
    alternates = True
    x_default = True

    def items(self) -> QuerySet[Service]:
        return Service.objects.order_by("slug")

    def location(self, item: Service) -> str:
        return reverse("service_detail", args=[item.slug])


class RegionSitemap(Sitemap[str]):
    changefreq = "hourly"
    i18n = True
    alternates = True
    x_default = True

    def items(self) -> list[str]:
        return sorted(countries())

    def location(self, item: str) -> str:
        return reverse("region", args=[item])


class ReferenceSitemap(Sitemap[str]):
    """The API reference, its index and a page per tag: in English only, like the API."""

    changefreq = "daily"

    def items(self) -> list[str]:
        return ["", *(s.tag for s in api_reference().sections)]

    def location(self, item: str) -> str:
        return reverse("api_docs_tag", args=[item]) if item else reverse("api_docs")


SITEMAPS = {
    "pages": PageSitemap,
    "reference": ReferenceSitemap,
    "services": ServiceSitemap,
    "regions": RegionSitemap,
}
