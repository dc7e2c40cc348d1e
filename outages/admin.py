from django.contrib import admin

from outages.models import AccessProvider, Dependency, Event, Service, StatusPage


class DependencyInline(admin.TabularInline[Dependency, Service]):
    model = Dependency
    fk_name = "service"
    extra = 0
    autocomplete_fields = ["provider"]


class AccessInline(admin.TabularInline[AccessProvider, Service]):
    model = AccessProvider
    extra = 0


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin[Service]):
    list_display = ["name", "slug", "category", "home_url"]
    list_filter = ["category"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [DependencyInline, AccessInline]


@admin.register(Dependency)
class DependencyAdmin(admin.ModelAdmin[Dependency]):
    """The dependency map: every fact with where it came from."""

    list_display = ["service", "provider", "kind", "source"]
    list_filter = ["kind", "provider"]
    search_fields = ["service__name", "provider__name", "source"]
    autocomplete_fields = ["service", "provider"]


@admin.register(AccessProvider)
class AccessProviderAdmin(admin.ModelAdmin[AccessProvider]):
    list_display = ["service", "country", "source"]
    list_filter = ["country"]
    search_fields = ["service__name", "country"]
    autocomplete_fields = ["service"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin[Event]):
    """Events are decided by detection; the admin shows them."""

    list_display = ["id", "country", "cause", "cause_service", "started_at", "ended_at"]
    list_filter = ["cause"]
    readonly_fields = [f.name for f in Event._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(StatusPage)
class StatusPageAdmin(admin.ModelAdmin[StatusPage]):
    """Official status pages: where each is read, and how its polling goes."""

    list_display = ["service", "format", "url", "indicator", "good_at", "failures", "last_error"]
    list_filter = ["format", "indicator"]
    search_fields = ["service__name", "url"]
    autocomplete_fields = ["service"]
    readonly_fields = [
        "validators",
        "indicator",
        "description",
        "components",
        "incidents",
        "official_since",
        "checked_at",
        "good_at",
        "failures",
        "last_error",
    ]
