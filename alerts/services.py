"""Writes of alerts: e-mail sign-ups (nothing stored until the address confirms), push
subscriptions, unsubscribing, and the deliveries of an incident's change."""

import logging
import smtplib

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.limits import signup_take
from alerts.messages import confirmation_email
from alerts.models import Alert, AlertDelivery, AlertEvent, Channel
from alerts.selectors import alerts_for_incident
from alerts.tokens import SignUp, TokenInvalid, confirm_token, confirm_token_read
from outages.models import Incident, Service, WebhookEvent

logger = logging.getLogger(__name__)


class AlertsUnavailable(Exception):
    """The confirmation could not be queued (the broker is unreachable)."""


def email_alert_request(*, signup: SignUp, ip: str) -> None:
    """Count the sign-up against its limits (raises alerts.limits.Limited) and have the
    confirmation mailed. The address travels in the signed link only."""
    signup_take(ip=ip, email=signup.email)
    from alerts.tasks import alert_confirmation_task

    try:
        alert_confirmation_task.delay(confirm_token(signup))
    # Whatever the broker's client raises for a broker it cannot reach: the visitor is told
    # to try again, and nothing was stored.
    except Exception as exc:  # noqa: BLE001
        logger.warning("could not queue an alert confirmation: %s", exc)
        raise AlertsUnavailable() from exc


def confirmation_send(*, token: str) -> bool:
    """Mail the confirmation link. False when it cannot be sent for good (the token is bad,
    the service is gone, the server refuses the address); a server that is unreachable or
    busy raises, for a retry."""
    try:
        signup = confirm_token_read(token)
    except TokenInvalid:
        return False
    service = Service.objects.filter(id=signup.service_id).first()
    if service is None:
        return False
    try:
        confirmation_email(signup=signup, service=service).send()
    except smtplib.SMTPRecipientsRefused:
        logger.info("a confirmation address was refused by the mail server")
        return False
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            logger.info("a confirmation was refused: SMTP %s", exc.smtp_code)
            return False
        raise
    return True


def email_alert_confirm(*, token: str) -> Alert:
    """Store the alert the link describes (raises TokenInvalid). Confirming again, or with
    other choices for the same address and place, updates the one alert."""
    signup = confirm_token_read(token)
    service = Service.objects.filter(id=signup.service_id).first()
    if service is None:
        raise TokenInvalid()
    key = {
        "channel": Channel.EMAIL,
        "service": service,
        "country": signup.country,
        "email": signup.email,
    }
    choices = {
        "on_open": signup.on_open,
        "on_resolve": signup.on_resolve,
        "language": signup.language,
    }
    return _upsert(key, choices)


def _upsert(key: dict[str, object], choices: dict[str, object]) -> Alert:
    try:
        with transaction.atomic():
            alert, _ = Alert.objects.update_or_create(
                **key, defaults=choices, create_defaults=choices | {"created_at": timezone.now()}
            )
    except IntegrityError:
        # Two confirmations of one link at once: the other made the row.
        alert = Alert.objects.get(**key)
        Alert.objects.filter(id=alert.id).update(**choices)
    return alert


def push_alert_subscribe(
    *,
    service: Service,
    country: str,
    endpoint: str,
    p256dh: str,
    auth: str,
    on_open: bool,
    on_resolve: bool,
    language: str,
    ip: str,
) -> Alert:
    """A browser's push subscription for a service and place (raises Limited). The browser
    has already said yes, so there is nothing to confirm."""
    signup_take(ip=ip, email=None)
    key = {"channel": Channel.PUSH, "service": service, "country": country, "endpoint": endpoint}
    choices = {
        "on_open": on_open,
        "on_resolve": on_resolve,
        "language": language,
        "p256dh": p256dh,
        "auth": auth,
    }
    return _upsert(key, choices)


def push_alert_unsubscribe(*, service: Service, country: str, endpoint: str) -> int:
    deleted, _ = Alert.objects.filter(
        channel=Channel.PUSH, service=service, country=country, endpoint=endpoint
    ).delete()
    return int(deleted)


def alert_remove(*, alert_id: int) -> bool:
    """Remove the alert (its address with it); False if it was already gone."""
    deleted, _ = Alert.objects.filter(id=alert_id).delete()
    return deleted > 0


def alerts_announce(*, incident: Incident, event: str, previous_level: str) -> list[int]:
    """In the notify claim's transaction: one delivery for each alert that wants this change.
    Alerts speak of problems beginning and ending; a change of level in between is no news
    to someone without a dashboard. Returns the new delivery ids."""
    if event == WebhookEvent.OPENED:
        kind = AlertEvent.OPENED
    elif event == WebhookEvent.RESOLVED:
        kind = AlertEvent.RESOLVED
    else:
        return []
    alerts = alerts_for_incident(incident=incident, event=kind)
    if not alerts:
        return []
    # The claim holds the incident's row lock, so no other claim adds deliveries meanwhile;
    # the unique key (alert, incident, event) holds the rule even if that ever changed.
    done = set(
        AlertDelivery.objects.filter(incident=incident, event=kind).values_list(
            "alert_id", flat=True
        )
    )
    now = timezone.now()
    created = AlertDelivery.objects.bulk_create(
        AlertDelivery(alert=a, channel=a.channel, incident=incident, event=kind, created_at=now)
        for a in alerts
        if a.id not in done
    )
    return [d.id for d in created]


def alerts_wanted() -> bool:
    return Alert.objects.exists()
