"""Sending one alert delivery (an e-mail through Django's SMTP backend, or a push) and
recording the attempt in the delivery log."""

import logging
import smtplib

from django.db.models import F
from django.utils import timezone

from alerts.messages import incident_email, push_payload
from alerts.models import Alert, AlertDelivery, Channel
from alerts.push import push_send
from outages.models import DeliveryStatus

logger = logging.getLogger(__name__)


class AlertRetryableError(Exception):
    """The mail server or push service could not take the message now."""


def _email_send(delivery: AlertDelivery, alert: Alert) -> tuple[int | None, str, bool, bool]:
    message = incident_email(alert=alert, incident=delivery.incident, event=delivery.event)
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        code = codes[0] if codes else None
        return code, f"recipient refused: {code}", bool(code and 400 <= code < 500), False
    except smtplib.SMTPResponseException as exc:
        # 4xx: try again later (greylisting, a full queue); 5xx: it will not be taken.
        return exc.smtp_code, f"SMTP {exc.smtp_code}", 400 <= exc.smtp_code < 500, False
    except (smtplib.SMTPException, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300], True, False
    return 250, "", False, False


def _push_send(delivery: AlertDelivery, alert: Alert) -> tuple[int | None, str, bool, bool]:
    result = push_send(
        endpoint=alert.endpoint,
        p256dh=alert.p256dh,
        auth=alert.auth,
        payload=push_payload(
            incident=delivery.incident, event=delivery.event, language=alert.language
        ),
    )
    return result.status, result.error, result.retryable, result.gone


def alert_deliver(*, delivery_id: int, final: bool = False) -> str:
    """Send one delivery once and record it. Raises AlertRetryableError when it may go
    through later (unless `final`); otherwise marks it delivered or failed, and removes a
    push alert whose subscription is gone (404, 410). Running it again after success does
    nothing."""
    delivery = (
        AlertDelivery.objects.select_related("alert", "incident__service")
        .filter(id=delivery_id)
        .first()
    )
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return delivery.status if delivery else "missing"
    AlertDelivery.objects.filter(id=delivery.id).update(attempts=F("attempts") + 1)
    alert = delivery.alert
    if alert is None:
        status, error, retryable, gone = None, "alert removed", False, False
    elif alert.channel == Channel.EMAIL:
        status, error, retryable, gone = _email_send(delivery, alert)
    else:
        status, error, retryable, gone = _push_send(delivery, alert)
    if not error:
        AlertDelivery.objects.filter(id=delivery.id).update(
            status=DeliveryStatus.DELIVERED,
            delivered_at=timezone.now(),
            status_code=status,
            error="",
        )
        return DeliveryStatus.DELIVERED
    AlertDelivery.objects.filter(id=delivery.id).update(status_code=status, error=error[:300])
    if gone and alert is not None:
        Alert.objects.filter(id=alert.id).delete()
        logger.info("push subscription of alert %s is gone (%s): removed", alert.id, error)
    if retryable and not final:
        raise AlertRetryableError(error)
    AlertDelivery.objects.filter(id=delivery.id).update(status=DeliveryStatus.FAILED)
    logger.warning("alert delivery %s failed: %s", delivery.id, error)
    return DeliveryStatus.FAILED
