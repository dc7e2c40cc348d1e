from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from analytics.rollup import rollup_run
from analytics.services import baseline_run, incidents_backfill


class Command(BaseCommand):
    help = "Roll up, compute baselines and record past incidents over the stored history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=14)

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        result = rollup_run(now=now)
        self.stdout.write(f"Rolled up {result.rows:,} minute rows.")
        self.stdout.write(f"Stored {baseline_run(now=now):,} hourly baselines.")
        created = incidents_backfill(since=now - timedelta(days=options["days"]), until=now)
        self.stdout.write(f"Recorded {created} past incidents.")
