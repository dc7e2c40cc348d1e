from django.db import models
from django.utils import timezone

from outages.models import Problem, Service


class Source(models.TextChoices):
    WEB = "web", "Web form"
    API = "api", "API"
    BATCH = "batch", "Batch API"


class Report(models.Model):
    """One person's report. Append-only: the source of truth everything else is computed from."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="reports")
    problem = models.CharField(max_length=16, choices=Problem.choices)
    country = models.CharField(max_length=2)
    subdivision = models.CharField(max_length=6, blank=True, default="")
    comment = models.CharField(max_length=280, blank=True, default="")
    # When the report happened: the minute it is counted in. A batch item's `observed_at`
    # (a partner's backlog), otherwise when it arrived.
    created_at = models.DateTimeField(default=timezone.now)
    # When a report observed earlier arrived (a batch item with `observed_at`); null for a
    # report that arrived when it was made, which is every other one. The rollup finds the
    # late ones by it, to re-sum the old minutes they land in.
    received_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    # HMAC of an anonymous browser id or of the IP; the raw IP is never stored.
    client_key = models.CharField(max_length=32)
    # False for a report over its address's cap (REPORT_ADDRESS_LIMIT): stored, since it may
    # be a real person behind a shared address, but left out of every count. The database
    # default keeps COPY and raw inserts that do not name the column counted.
    counted = models.BooleanField(default=True, db_default=True)

    class Meta:
        indexes = [
            # "reports since T": the minute rollup's scan.
            models.Index(fields=["created_at"], name="report_created_idx"),
            # "reports of service S since T": per-service counts and the confirmation page.
            models.Index(fields=["service", "created_at"], name="report_service_created_idx"),
            # "has client C reported S since T": the dedupe when the cache does not know.
            models.Index(
                fields=["client_key", "service", "created_at"], name="report_client_service_idx"
            ),
            # "which reports observed earlier arrived since T": the rollup's late minutes.
            # Partial: only batch items with observed_at are in it.
            models.Index(
                fields=["received_at", "created_at"],
                name="report_received_idx",
                condition=models.Q(received_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.problem} {self.country} {self.created_at:%Y-%m-%d %H:%M}"


class Recovery(models.Model):
    """One person saying a service works again for them, while it has an open incident.

    A table of its own, so that no count of problem reports, rollup or baseline can ever
    include one; read only to close incidents sooner and to show where it works again."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="recoveries")
    country = models.CharField(max_length=2)
    subdivision = models.CharField(max_length=6, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=8, choices=Source.choices)
    client_key = models.CharField(max_length=32)
    # As for reports: over the address's cap it is kept but not counted.
    counted = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "recoveries"
        indexes = [
            models.Index(fields=["service", "created_at"], name="recovery_service_created_idx"),
            models.Index(
                fields=["client_key", "service", "created_at"], name="recovery_client_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} works again {self.country} {self.created_at:%Y-%m-%d %H:%M}"


class Claim(models.Model):
    """State of the abuse controls (reports.abuse): a rate-limit or address-cap counter, or a
    dedupe claim, valid until ``expires`` (epoch seconds, the web host's clock, as the windows
    are). Keys name the control, the service and the client or address."""

    key = models.CharField(max_length=100, primary_key=True)
    count = models.IntegerField()
    expires = models.FloatField()

    def __str__(self) -> str:
        return f"{self.key} {self.count}"
