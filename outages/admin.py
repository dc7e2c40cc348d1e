from django.contrib import admin

from outages.models import Service


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin[Service]):
    list_display = ["name", "slug", "category", "home_url"]
    list_filter = ["category"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
