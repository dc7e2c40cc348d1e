from django.core.exceptions import ValidationError
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Category(models.TextChoices):
    SOCIAL = "social", _("Social")
    VIDEO_MUSIC = "video_music", _("Video & music")
    MESSAGING = "messaging", _("Messaging")
    GAMING = "gaming", _("Gaming")
    CLOUD_DEV = "cloud_dev", _("Cloud & developer")
    EMAIL_PRODUCTIVITY = "email_productivity", _("Email & productivity")
    SHOPPING_PAYMENTS = "shopping_payments", _("Shopping & payments")
    TELECOM = "telecom", _("Telecom & internet")


class Problem(models.TextChoices):
    """The shared vocabulary of problems; each service offers its own subset, in its own order."""

    LOGIN = "login", pgettext_lazy("problem", "Login")
    WEBSITE = "website", pgettext_lazy("problem", "Website")
    APP = "app", pgettext_lazy("problem", "App crashing")
    CONNECTION = "connection", pgettext_lazy("problem", "Connection / server")
    UPLOAD = "upload", pgettext_lazy("problem", "Upload")
    PLAYBACK = "playback", pgettext_lazy("problem", "Playback / streaming")
    MESSAGING = "messaging", pgettext_lazy("problem", "Sending messages")
    NOTIFICATIONS = "notifications", pgettext_lazy("problem", "Notifications")
    PAYMENTS = "payments", pgettext_lazy("problem", "Payments")
    MATCHMAKING = "matchmaking", pgettext_lazy("problem", "Matchmaking / gameplay")
    DEPLOYS = "deploys", pgettext_lazy("problem", "Deploys / builds")
    EMAIL = "email", pgettext_lazy("problem", "Sending or receiving email")
    MOBILE = "mobile", pgettext_lazy("problem", "Mobile network / no signal")
    INTERNET = "internet", pgettext_lazy("problem", "Home internet")
    CALLS = "calls", pgettext_lazy("problem", "Calls")
    OTHER = "other", pgettext_lazy("problem", "Other")


# Lazy: each label is translated when it is shown, in the language of that page or answer.
PROBLEM_LABELS: dict[str, str | Promise] = {str(p.value): p.label for p in Problem}


def validate_problem_list(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Give at least one problem type as a list.")
    unknown = [p for p in value if p not in PROBLEM_LABELS]
    if unknown:
        raise ValidationError(f"Unknown problem types: {', '.join(map(str, unknown))}.")
    if len(set(value)) != len(value):
        raise ValidationError("Problem types must not repeat.")


class Service(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    category = models.CharField(max_length=32, choices=Category.choices)
    home_url = models.URLField(max_length=200)
    # Problem codes in display order; JSON keeps it portable between SQLite and PostgreSQL.
    problems = models.JSONField(default=list, validators=[validate_problem_list])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def problem_choices(self) -> list[tuple[str, str | Promise]]:
        return [(code, PROBLEM_LABELS[code]) for code in self.problems]


class Level(models.TextChoices):
    OK = "ok", pgettext_lazy("level", "No problems")
    POSSIBLE = "possible", pgettext_lazy("level", "Possible problems")
    OUTAGE = "outage", pgettext_lazy("level", "Problems")


LEVEL_RANK = {Level.OK: 0, Level.POSSIBLE: 1, Level.OUTAGE: 2}


class Incident(models.Model):
    """An incident: reports for a service (globally, or in one country) well above its baseline.

    Opened, updated and closed by the detection task. `country` is "" for a global incident.
    """

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="incidents")
    country = models.CharField(max_length=2, blank=True, default="")
    level = models.CharField(max_length=8, choices=Level.choices)
    max_level = models.CharField(max_length=8, choices=Level.choices)
    started_at = models.DateTimeField()
    peak_at = models.DateTimeField()
    peak_reports = models.FloatField(help_text="reports per minute at the peak")
    peak_expected = models.FloatField(help_text="expected reports per minute at the peak")
    ended_at = models.DateTimeField(null=True, blank=True)
    # [{"country", "subdivision", "reports", "expected", "excess"}], largest excess first.
    regions = models.JSONField(default=list, blank=True)
    # [{"problem", "reports", "share"}], most reported first.
    problems = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The level last announced to webhook subscribers ("" before the opening is announced;
    # "ok" once the resolution is). Notification claims compare it with `level` under a row
    # lock, so each change is announced once however many workers or retries see it.
    notified_level = models.CharField(max_length=8, blank=True, default="")
    # The wider problem this incident is part of, if any (set by the detection pass).
    event = models.ForeignKey(
        "Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    # When the service's official status page first reported an incident matching this one,
    # and when it said that was resolved (outages.services.status_page_poll).
    official_acknowledged_at = models.DateTimeField(null=True, blank=True)
    official_resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table keeps the name it was created with (the API still speaks of outages).
        db_table = "outages_outage"
        ordering = ["-started_at"]
        constraints = [
            # Two detection workers racing must not open the same incident twice.
            models.UniqueConstraint(
                fields=["service", "country"],
                condition=models.Q(ended_at__isnull=True),
                name="one_open_outage_per_scope",
            )
        ]
        indexes = [models.Index(fields=["service", "-started_at"], name="outage_service_started")]

    def __str__(self) -> str:
        scope = self.country or "global"
        return f"{self.service_id} {scope} {self.started_at:%Y-%m-%d %H:%M}"


class DependencyKind(models.TextChoices):
    HOSTING = "hosting", _("Runs on")
    CDN = "cdn", _("Content delivery")
    DNS = "dns", _("DNS")
    IDENTITY = "identity", _("Sign-in")


class Dependency(models.Model):
    """A fact of the dependency map: `service` runs on (or is delivered by) `provider`, itself a
    catalogue service people can report. Curated, with where the fact came from."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="dependencies")
    provider = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="dependents")
    kind = models.CharField(max_length=16, choices=DependencyKind.choices)
    source = models.URLField(max_length=300, help_text="where this fact was published")
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["service__name", "provider__name", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "provider", "kind"], name="one_dependency_per_kind"
            ),
            models.CheckConstraint(
                condition=~models.Q(service=models.F("provider")), name="dependency_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} → {self.provider_id} ({self.kind})"


class AccessProvider(models.Model):
    """A fact of the dependency map: `service` is a network people in `country` reach the
    internet through (mobile or home), with where the fact came from."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="access_countries")
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    source = models.URLField(max_length=300, help_text="where this fact was published")

    class Meta:
        ordering = ["country", "service__name"]
        constraints = [
            models.UniqueConstraint(fields=["service", "country"], name="one_access_per_country")
        ]

    def __str__(self) -> str:
        return f"{self.service_id} in {self.country}"


class CauseKind(models.TextChoices):
    PROVIDER = "provider", _("A shared provider")
    ACCESS = "access", _("An access provider")
    REGION = "region", _("Network or power in the region")
    UNKNOWN = "unknown", _("Cause unknown")


class Event(models.Model):
    """A wider problem: incidents of several services in one region (a country, or "" for
    worldwide) that opened within minutes of each other, and their likely cause. Decided by
    each detection pass (outages.services.events_apply); members are the incidents whose
    `event` is this one, open or resolved."""

    country = models.CharField(max_length=2, blank=True, default="")
    # The earliest member when the event was formed: two detection workers forming the same
    # event pick the same anchor, and the unique constraint lets one of them create it.
    anchor = models.ForeignKey("Incident", on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    cause = models.CharField(max_length=16, choices=CauseKind.choices)
    # The provider (or access provider) named as the likely cause, if any; whether it has
    # problems of its own at the time of the last pass.
    cause_service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cause_has_problems = models.BooleanField(default=False)
    # Services with an open member incident at the last pass (the event's size now), and the
    # most there ever were.
    active_members = models.PositiveIntegerField(default=0)
    peak_members = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()
    # Bumped on every change subscribers hear about (members, cause, end); the announced
    # version is claimed under a row lock, so each change is announced once.
    version = models.PositiveIntegerField(default=1)
    notified_version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # Two detection workers racing must not form the same event twice.
            models.UniqueConstraint(
                fields=["anchor"],
                condition=models.Q(ended_at__isnull=True),
                name="one_open_event_per_anchor",
            )
        ]
        indexes = [models.Index(fields=["ended_at", "-started_at"], name="event_open_started")]

    def __str__(self) -> str:
        return f"event {self.id} {self.country or 'worldwide'} {self.cause}"


class StatusFormat(models.TextChoices):
    STATUSPAGE = "statuspage", "Atlassian Statuspage (summary.json, incidents.json)"
    FEED = "feed", "RSS or Atom incident feed"


class StatusPage(models.Model):
    """A service's official status page, polled (outages.services.status_page_poll): the last
    good state it reported, and the polling's own state (validators for conditional
    requests, failures and backoff)."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="status_page")
    format = models.CharField(max_length=16, choices=StatusFormat.choices)
    # Statuspage: the page's root (https://www.githubstatus.com); a feed: the feed itself.
    url = models.URLField(max_length=300)
    page_url = models.URLField(max_length=300, help_text="the page for people")
    # {url: {"etag": ..., "last_modified": ...}} of the last good answers.
    validators = models.JSONField(default=dict, blank=True)
    # none, minor, major, critical, maintenance ("" before the first good answer)
    indicator = models.CharField(max_length=16, blank=True, default="")
    description = models.CharField(max_length=300, blank=True, default="")
    # [{"name", "status"}] of components not operational
    components = models.JSONField(default=list, blank=True)
    # [{"id", "name", "status", "impact", "created_at", "resolved_at"}], newest first
    incidents = models.JSONField(default=list, blank=True)
    official_since = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)  # the last poll, good or not
    good_at = models.DateTimeField(null=True, blank=True)  # the last good answer (or 304)
    failures = models.PositiveIntegerField(default=0)  # in a row
    last_error = models.CharField(max_length=300, blank=True, default="")
    next_poll_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.service_id} {self.format} {self.url}"


class ServiceStatus(models.Model):
    """Current level of every service, rewritten by each detection pass: the home page and the
    API read all services' status in one query."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="status")
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.OK)
    since = models.DateTimeField(null=True, blank=True)
    current = models.FloatField(default=0, help_text="reports per minute, recent")
    expected = models.FloatField(default=0)
    threshold = models.FloatField(default=0)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.service_id} {self.level}"


class Subscription(models.Model):
    """A token holder's webhook: incidents of the chosen services and countries at or above
    `min_level` are POSTed to `url`, signed with `secret`."""

    owner = models.ForeignKey(
        "auth.User", on_delete=models.CASCADE, related_name="outage_subscriptions"
    )
    url = models.URLField(max_length=500)
    # Empty means every service / every country.
    services = models.ManyToManyField(Service, blank=True, related_name="+")
    countries = models.JSONField(default=list, blank=True)
    min_level = models.CharField(max_length=8, choices=Level.choices, default=Level.OUTAGE)
    secret = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.owner_id} → {self.url}"


class WebhookEvent(models.TextChoices):
    OPENED = "opened", "Incident opened"
    LEVEL_CHANGED = "level_changed", "Incident changed level"
    RESOLVED = "resolved", "Incident resolved"
    EVENT_OPENED = "event_opened", "Wider problem found"
    EVENT_CHANGED = "event_changed", "Wider problem changed"
    EVENT_ENDED = "event_ended", "Wider problem over"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one subscription. The body is fixed when the event is claimed, so every
    retry sends the same bytes (receivers can deduplicate on the delivery id)."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    # One of the two: an incident's change, or a wider problem's (an Event).
    incident = models.ForeignKey(
        Incident, null=True, on_delete=models.CASCADE, related_name="+", db_column="outage_id"
    )
    outage_event = models.ForeignKey(Event, null=True, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=16, choices=WebhookEvent.choices)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["subscription", "-created_at"], name="delivery_sub_created")
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.event} {self.status}"


class WebhookAttempt(models.Model):
    """Every POST of a delivery, successful or not: what subscribers see when debugging."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery_id", "number"]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number} {self.status_code or self.error}"


class OutboxTask(models.TextChoices):
    NOTIFY = "notify", "Announce an incident's change (incident id)"
    DELIVER = "deliver", "Send a webhook delivery (delivery id)"
    NOTIFY_EVENT = "notify_event", "Announce a wider problem's change (event id)"


class OutboxMessage(models.Model):
    """A task still to be handed to the broker, written in the transaction of the change that
    calls for it, so the change and the intent to announce it commit together. Deleted once
    the broker took it; while the broker is unreachable the rows wait for the sweep
    (outages.outbox)."""

    task = models.CharField(max_length=16, choices=OutboxTask.choices)
    object_id = models.BigIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task} {self.object_id}"
