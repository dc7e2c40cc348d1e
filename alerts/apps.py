from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The incident domain announces through registered channels; it does not import us.
        from alerts.channel import register

        register()
