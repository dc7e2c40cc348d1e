from django.db import transaction

from outages.models import Service


@transaction.atomic
def service_upsert(
    *, slug: str, name: str, category: str, home_url: str, problems: list[str]
) -> Service:
    fields = {"name": name, "category": category, "home_url": home_url, "problems": problems}
    Service(slug=slug, **fields).full_clean(validate_unique=False)
    service, _ = Service.objects.update_or_create(slug=slug, defaults=fields)
    return service
