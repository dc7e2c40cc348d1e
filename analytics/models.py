import uuid

from django.db import models
from django.utils import timezone

from outages.models import Service


class MinuteCount(models.Model):
    """Reports per minute per (service, country, subdivision, problem): what every read uses.

    Recomputed from the raw table by the rollup task, so it can always be rebuilt.
    """

    # The key is the primary key: no `id` column, its sequence and its index to maintain for
    # each of the rollup's rows (a fifth of a large run's insert).
    pk = models.CompositePrimaryKey("service", "minute", "country", "subdivision", "problem")
    # No database-level foreign key: every row comes from reports, whose own foreign key
    # already guarantees the service, and checking it again for each of a million rows at
    # commit was a quarter of the rollup. Deleting a service still deletes its rows (Django's
    # on_delete). No index of its own either: the key starts with the service.
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    country = models.CharField(max_length=2)
    subdivision = models.CharField(max_length=6, blank=True, default="")
    problem = models.CharField(max_length=16)
    minute = models.DateTimeField()
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["minute"], name="minutecount_minute_idx")]

    def __str__(self) -> str:
        return f"{self.service_id} {self.minute:%Y-%m-%d %H:%M} {self.country} {self.count}"


class ServiceMinute(models.Model):
    """Reports per minute per service, every country, subdivision and problem together:
    summed from MinuteCount by the rollup for the charts of a whole service. A busy service
    has tens of thousands of MinuteCount rows a day and at most 1,440 of these."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    minute = models.DateTimeField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "minute"], name="serviceminute_key")
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.minute:%Y-%m-%d %H:%M} {self.count}"


class ServiceHour(models.Model):
    """Reports per hour per service, every country together: summed from ServiceMinute by
    the rollup for week-long charts and every service's 24-hour sparkline (HourCount holds a
    row per country, thirty times as many)."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    hour = models.DateTimeField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "hour"], name="servicehour_key")]
        indexes = [models.Index(fields=["hour"], name="servicehour_hour_idx")]

    def __str__(self) -> str:
        return f"{self.service_id} {self.hour:%Y-%m-%d %H:00} {self.count}"


class RegionHour(models.Model):
    """Reports per hour per (service, country, subdivision), summed from MinuteCount by the
    rollup: a day of a busy service's states or provinces is a few hundred of these rows
    against tens of thousands of minute rows. HourCount is summed from these in turn."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    country = models.CharField(max_length=2)
    subdivision = models.CharField(max_length=6, blank=True, default="")
    hour = models.DateTimeField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "hour", "country", "subdivision"], name="regionhour_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.hour:%Y-%m-%d %H:00} {self.country} {self.subdivision}"


class CountryMinute(models.Model):
    """Reports per minute per country, every service together: the live map of all services
    reads a few thousand of these instead of every service's minute rows."""

    country = models.CharField(max_length=2)
    minute = models.DateTimeField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["minute", "country"], name="countryminute_key")
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.minute:%Y-%m-%d %H:%M} {self.count}"


class CountryHour(models.Model):
    """Reports per hour per country, every service together, summed from HourCount: the long
    windows of the live map and each country's usual share of all reports."""

    country = models.CharField(max_length=2)
    hour = models.DateTimeField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "country"], name="countryhour_key")]

    def __str__(self) -> str:
        return f"{self.country} {self.hour:%Y-%m-%d %H:00} {self.count}"


class RollupState(models.Model):
    """The rollup's watermark: every minute before `complete_until` has been rolled up once.

    Runs rewrite only the minutes from `complete_until` less the lateness allowance on, so
    readers may keep older counts, as long as `history_id` is the same: it changes whenever
    older minutes may be rewritten (history rewound for a bulk load, a run for an earlier time).
    The one exception, old minutes of reports that arrived late with their own `observed_at`,
    is recorded as a RollupRewrite of just those minutes.
    """

    name = models.CharField(max_length=32, unique=True)
    complete_until = models.DateTimeField()
    history_id = models.UUIDField(default=uuid.uuid4)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} until {self.complete_until:%Y-%m-%d %H:%M}"


class RollupRewrite(models.Model):
    """Minutes before a run's range that the run re-summed, because reports observed then
    (batch items with `observed_at`) arrived late. Readers that keep counts between runs
    (each detection worker's grids) read again from the earliest one they have not seen.
    Kept two days: longer than any kept grid of minutes, and observed_at is at most a day old.
    """

    since = models.DateTimeField()
    until = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"minutes {self.since:%Y-%m-%d %H:%M} to {self.until:%H:%M} re-summed"


class HourCount(models.Model):
    """Reports per hour per (service, country), summed from RegionHour by the rollup: the
    weeks of history that baselines learn from, and the long ranges of charts."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    country = models.CharField(max_length=2)
    hour = models.DateTimeField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "hour", "country"], name="hourcount_key")
        ]
        indexes = [models.Index(fields=["hour"], name="hourcount_hour_idx")]

    def __str__(self) -> str:
        return f"{self.service_id} {self.hour:%Y-%m-%d %H:00} {self.country} {self.count}"


class Baseline(models.Model):
    """Expected reports per minute in each hour, for a service (country "") or a
    (service, country) with enough volume. Fixed at the start of the hour from earlier data
    only, rewritten by the hourly baseline task; charts draw it and the API publishes it."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    country = models.CharField(max_length=2, blank=True, default="")
    hour = models.DateTimeField()
    expected = models.FloatField(help_text="reports per minute")
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "country", "hour"], name="baseline_key")
        ]
        # The live map and region pages read every service's baselines for the last hour.
        indexes = [models.Index(fields=["hour"], name="baseline_hour_idx")]

    def __str__(self) -> str:
        return f"{self.service_id} {self.country or 'all'} {self.hour:%Y-%m-%d %H:00}"


class SeriesPeak(models.Model):
    """A series' day peaks: on one UTC day, per window span, the largest ratio of reports to
    expectation at unusual buckets outside outages (``analytics.detection.day_peaks``). The
    detection pass keeps the largest it has seen; the records that hold an outage back are the
    largest of the previous ``RECORD_DAYS`` days (``analytics.detection.RECORD_DAYS``)."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    country = models.CharField(max_length=2, blank=True, default="")
    day = models.DateField()
    # One column per analytics.detection.RECORD_SPANS (window span in minutes).
    peak_2 = models.FloatField()
    peak_5 = models.FloatField()
    peak_15 = models.FloatField()
    peak_45 = models.FloatField()
    peak_120 = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "country", "day"], name="seriespeak_key")
        ]
        indexes = [models.Index(fields=["day"], name="seriespeak_day_idx")]

    def __str__(self) -> str:
        return f"{self.service_id} {self.country or 'all'} {self.day}"
