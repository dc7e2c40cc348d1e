import time
from argparse import ArgumentParser
from datetime import datetime, timedelta
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max
from django.utils import timezone

from analytics.rollup import analytics_reset, rollup_rewind
from demo import simulation
from demo.tasks import demo_reports_delete_all, demo_reports_insert
from reports.models import Report

MAX_DAYS = 60


class Command(BaseCommand):
    help = (
        "Fill an empty database with simulated report history so that a demo site has "
        "something to show: a daily rhythm per country and a few injected outages."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--days", type=int, default=14, help="days of history (default 14)")
        parser.add_argument(
            "--force",
            action="store_true",
            help="delete ALL existing reports first and seed afresh (demo databases only)",
        )
        parser.add_argument(
            "--top-up",
            action="store_true",
            help="when reports exist, simulate the time since the newest one (at most --days)",
        )
        parser.add_argument("--seed", type=int, default=simulation.DEFAULT_SEED)
        parser.add_argument(
            "--scale",
            type=float,
            default=simulation.DEFAULT_SCALE,
            help=(
                f"volume multiplier (default {simulation.DEFAULT_SCALE}: ~430k reports in 14 days)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days: int = options["days"]
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between 1 and {MAX_DAYS}.")
        if options["seed"] < 0:
            raise CommandError("--seed must not be negative.")
        if options["scale"] <= 0:
            raise CommandError("--scale must be positive.")
        call_command("seed_services", stdout=self.stdout)

        end = timezone.now()
        start = end - timedelta(days=days)
        if Report.objects.exists():
            if options["force"]:
                deleted = demo_reports_delete_all()
                analytics_reset()
                self.stdout.write(f"Deleted {deleted:,} existing reports and what was derived.")
            elif options["top_up"]:
                newest = Report.objects.aggregate(newest=Max("created_at"))["newest"]
                if newest is None or end - newest < timedelta(minutes=1):
                    self.stdout.write("Reports are up to date; nothing to top up.")
                    return
                start = max(start, newest)
            else:
                self.stdout.write(
                    "Reports already exist; skipping the demo history "
                    "(--force replaces them, --top-up fills the time since the newest)."
                )
                return
        self._seed(start=start, end=end, seed=options["seed"], scale=options["scale"])
        # The history is stamped in the past: the rollup must go back over it.
        rollup_rewind(since=start)

    def _seed(self, *, start: datetime, end: datetime, seed: int, scale: float) -> None:
        began = time.monotonic()
        outages = simulation.planned_outages(start=start, end=end)
        windows = simulation.history_windows(start=start, end=end)
        self.stdout.write(
            f"Simulating reports from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC "
            f"(seed {seed})…"
        )
        total = 0
        for number, (lo, hi) in enumerate(windows, start=1):
            frame = simulation.simulate_reports(
                start=lo, end=hi, seed=seed, scale=scale, outages=outages, trend_anchor=end
            )
            total += demo_reports_insert(frame=frame)
            self.stdout.write(
                f"  day {number}/{len(windows)} ({lo:%a %d %b}) … {total:,} reports "
                f"[{time.monotonic() - began:.1f}s]"
            )
            # Progress is the point of these lines; don't let a pipe buffer them.
            self.stdout.flush()

        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {total:,} demo reports in {time.monotonic() - began:.1f}s "
                f"({total / max(1.0, (end - start).total_seconds() / 60):.1f} a minute on average)."
            )
        )
        if not outages:
            self.stdout.write("No injected outages fall inside this window.")
            return
        self.stdout.write("Injected outages:")
        for outage in outages:
            where = outage.country or "worldwide"
            self.stdout.write(
                f"  {outage.start:%a %d %b %H:%M}–{outage.end:%H:%M} UTC  {outage.service} "
                f"({where}, up to ×{outage.factor:g}): {outage.summary}"
            )
