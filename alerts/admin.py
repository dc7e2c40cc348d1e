from django.contrib import admin

from alerts.models import Alert, AlertDelivery


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin[Alert]):
    list_display = ["id", "channel", "service", "country", "on_open", "on_resolve", "created_at"]
    list_filter = ["channel"]


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin[AlertDelivery]):
    list_display = ["id", "channel", "incident", "event", "status", "attempts", "created_at"]
    list_filter = ["channel", "status", "event"]
