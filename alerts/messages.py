"""What alerts say: the e-mails (the confirmation and the incident messages) and the push
payload, in the subscriber's language."""

import json
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from alerts.models import Alert, AlertEvent
from alerts.tokens import SignUp, confirm_token, unsubscribe_token
from common.regions import country_name
from outages.models import Incident, Service


def absolute(path: str) -> str:
    # A link in an e-mail must be absolute; make run's address stands in for an unset SITE_URL.
    return f"{settings.SITE_URL or 'http://localhost:8000'}{path}"


def place_name(country: str) -> str:
    return country_name(country) if country else _("worldwide")


@dataclass(frozen=True, slots=True)
class Words:
    title: str
    body: str
    url: str


def incident_words(*, incident: Incident, event: str, language: str) -> Words:
    with translation.override(language):
        service = incident.service.name
        place = place_name(incident.country)
        if event == AlertEvent.OPENED:
            title = _("%(service)s: problems reported (%(place)s)") % {
                "service": service,
                "place": place,
            }
            body = _(
                "People are reporting problems with %(service)s (%(place)s) since %(time)s UTC."
            ) % {"service": service, "place": place, "time": incident.started_at.strftime("%H:%M")}
        else:
            title = _("%(service)s is back to normal (%(place)s)") % {
                "service": service,
                "place": place,
            }
            ended = incident.ended_at or incident.started_at
            body = _(
                "Reports about %(service)s (%(place)s) are back to the usual level since "
                "%(time)s UTC."
            ) % {"service": service, "place": place, "time": ended.strftime("%H:%M")}
    return Words(
        title=title,
        body=body,
        url=absolute(reverse("service_detail", args=[incident.service.slug])),
    )


def unsubscribe_url(alert: Alert) -> str:
    return absolute(reverse("alert_unsubscribe", args=[unsubscribe_token(alert.id)]))


def incident_email(*, alert: Alert, incident: Incident, event: str) -> EmailMessage:
    words = incident_words(incident=incident, event=event, language=alert.language)
    with translation.override(alert.language):
        # The link opens the page in the alert's language (/es/alerts/unsubscribe/...).
        stop = unsubscribe_url(alert)
        text = "\n\n".join(
            [
                words.body,
                _("Status now: %(url)s") % {"url": words.url},
                _("You get this because you asked for alerts about %(service)s (%(place)s).")
                % {"service": incident.service.name, "place": place_name(alert.country)},
                _("Stop these alerts with one click: %(url)s") % {"url": stop},
            ]
        )
    return EmailMessage(
        subject=words.title,
        body=text + "\n",
        to=[alert.email],
        headers={
            # RFC 2369 and RFC 8058: mail programs offer "unsubscribe", which POSTs
            # "List-Unsubscribe=One-Click" to the URL, without opening a page.
            "List-Unsubscribe": f"<{stop}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )


def confirmation_email(*, signup: SignUp, service: Service) -> EmailMessage:
    with translation.override(signup.language):
        # The confirmation page in the language the sign-up was made in.
        link = absolute(reverse("alert_confirm", args=[confirm_token(signup)]))
        subject = _("Confirm your %(service)s alerts") % {"service": service.name}
        text = "\n\n".join(
            [
                _(
                    "Someone, probably you, asked %(site)s to e-mail this address when "
                    "%(service)s has problems or is back (%(place)s)."
                )
                % {
                    "site": settings.SITE_NAME,
                    "service": service.name,
                    "place": place_name(signup.country),
                },
                _("To confirm, open this link within two days: %(url)s") % {"url": link},
                _(
                    "If it was not you, ignore this message: the address has not been stored "
                    "and will get nothing more."
                ),
            ]
        )
    return EmailMessage(
        subject=subject,
        body=text + "\n",
        to=[signup.email],
        headers={"Auto-Submitted": "auto-generated"},
    )


def push_payload(*, incident: Incident, event: str, language: str) -> bytes:
    words = incident_words(incident=incident, event=event, language=language)
    return json.dumps(
        {
            "title": words.title,
            "body": words.body,
            "url": words.url,
            # One notification per incident on the device: "back" replaces "problems".
            "tag": f"incident-{incident.id}",
        },
        separators=(",", ":"),
    ).encode()
