from django.contrib import admin

from reports.models import Report


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin[Report]):
    list_display = ["created_at", "service", "problem", "country", "subdivision", "source"]
    list_filter = ["source", "problem"]
    search_fields = ["service__slug", "country"]
    date_hierarchy = "created_at"
    raw_id_fields = ["service"]
    # The raw table is append-only evidence; edits would silently change history.
    readonly_fields = [f.name for f in Report._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
