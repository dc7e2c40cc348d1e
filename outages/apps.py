from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class OutagesConfig(AppConfig):
    name = "outages"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from outages.models import Service
        from outages.selectors import catalogue_forget

        # The single-report path keeps a copy of the catalogue per process.
        post_save.connect(catalogue_forget, sender=Service, dispatch_uid="catalogue_forget")
        post_delete.connect(catalogue_forget, sender=Service, dispatch_uid="catalogue_forget_d")
