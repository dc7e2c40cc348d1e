"""Alerts for people without an account: an e-mail address or a browser's push subscription
that asked to hear when a service has problems, or is back, in a country or worldwide."""

from django.db import models
from django.db.models import Q

from outages.models import DeliveryStatus, Incident, Service


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    PUSH = "push", "Browser push"


class AlertEvent(models.TextChoices):
    OPENED = "opened", "Problems began"
    RESOLVED = "resolved", "Back to normal"


class Alert(models.Model):
    """One confirmed subscriber of one service in one place ("" is worldwide). An e-mail
    alert is only written when its address confirms: the sign-up itself stores nothing. A
    push alert holds the browser's subscription (its endpoint is a secret capability URL)."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    country = models.CharField(max_length=2, blank=True, default="")
    on_open = models.BooleanField(default=True)
    on_resolve = models.BooleanField(default=True)
    email = models.EmailField(max_length=254, blank=True, default="")
    endpoint = models.URLField(max_length=1000, blank=True, default="")
    p256dh = models.CharField(max_length=100, blank=True, default="")
    auth = models.CharField(max_length=50, blank=True, default="")
    # The language the subscriber used, for the messages.
    language = models.CharField(max_length=16, default="en")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "country", "email"],
                condition=Q(channel="email"),
                name="one_email_alert_per_place",
            ),
            models.UniqueConstraint(
                fields=["service", "country", "endpoint"],
                condition=Q(channel="push"),
                name="one_push_alert_per_place",
            ),
            models.CheckConstraint(
                condition=(Q(channel="email") & ~Q(email=""))
                | (Q(channel="push") & ~Q(endpoint="")),
                name="alert_has_its_address",
            ),
        ]
        indexes = [models.Index(fields=["service", "country"], name="alert_service_country")]

    def __str__(self) -> str:
        return f"{self.channel} {self.service_id} {self.country or 'worldwide'}"


class AlertDelivery(models.Model):
    """One message of one incident change to one alert: the delivery log. The unique key is
    the "at most one message per state change" rule, held by the database. An alert that is
    removed (unsubscribed, or its push subscription expired) leaves its deliveries without
    it: the log keeps no address."""

    alert = models.ForeignKey(
        Alert, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=16, choices=AlertEvent.choices)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "incident", "event"], name="one_alert_message_per_change"
            )
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.event} {self.status}"
