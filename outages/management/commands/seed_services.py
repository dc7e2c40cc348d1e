from typing import Any

from django.core.management.base import BaseCommand

from outages.catalogue import ACCESS, CATALOGUE, DEPENDENCIES, STATUS_PAGES
from outages.services import dependency_map_seed, service_upsert, status_pages_seed


class Command(BaseCommand):
    help = "Create or update the seeded service catalogue (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        for entry in CATALOGUE:
            service_upsert(
                slug=entry.slug,
                name=entry.name,
                category=entry.category,
                home_url=entry.home_url,
                problems=list(entry.problems),
            )
        added, access = dependency_map_seed(facts=DEPENDENCIES, access=ACCESS)
        pages = status_pages_seed(sources=STATUS_PAGES)
        self.stdout.write(
            f"Seeded {len(CATALOGUE)} services; dependency map: {added} dependencies and "
            f"{access} access networks added; {pages} official status pages added."
        )
