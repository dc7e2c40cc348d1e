"""The alert pages: the sign-up form of a service (uncached: it carries a CSRF token, and
the cached service page links to it), the confirmation and the unsubscribe pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from alerts.forms import EmailAlertForm
from alerts.limits import Limited
from alerts.models import Alert, AlertEvent
from alerts.push import application_server_key
from alerts.services import (
    AlertsUnavailable,
    alert_remove,
    email_alert_confirm,
    email_alert_request,
)
from alerts.tokens import SignUp, TokenInvalid, confirm_token_read, unsubscribe_token_read
from common.http import client_ip
from common.regions import countries, country_name
from outages.models import Service


def _form_page(
    request: HttpRequest, service: Service, form: EmailAlertForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "alerts/alert_form.html",
        {"service": service, "form": form, "vapid_key": application_server_key()},
        status=status,
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def alert_form(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_object_or_404(Service, slug=slug)
    if request.method != "POST":
        initial: dict[str, object] = {"events": [AlertEvent.OPENED, AlertEvent.RESOLVED]}
        country = request.GET.get("country", "").upper()
        if country in countries():
            initial["country"] = country
        return _form_page(request, service, EmailAlertForm(initial=initial))
    form = EmailAlertForm(request.POST)
    if not form.is_valid():
        return _form_page(request, service, form, status=400)
    if form.cleaned_data["website"]:
        # The honeypot: answered as a success, and nothing sent.
        return redirect("alert_sent", slug=service.slug)
    events = form.cleaned_data["events"]
    signup = SignUp(
        email=form.cleaned_data["email"],
        service_id=service.id,
        country=form.cleaned_data["country"],
        on_open=AlertEvent.OPENED in events,
        on_resolve=AlertEvent.RESOLVED in events,
        language=translation.get_language() or "en",
    )
    try:
        email_alert_request(signup=signup, ip=client_ip(request))
    except Limited as limited:
        form.add_error(
            "email" if limited.field == "email" else None,
            translation.gettext(
                "Too many sign-ups from here; try again in %(minutes)s minutes."
                if limited.field == "ip"
                else "Too many confirmation mails to this address today; try again later."
            )
            % {"minutes": max(limited.retry_after // 60, 1)},
        )
        response = _form_page(request, service, form, status=429)
        response["Retry-After"] = str(limited.retry_after)
        return response
    except AlertsUnavailable:
        form.add_error(None, translation.gettext("We could not send mail just now; try again."))
        response = _form_page(request, service, form, status=503)
        response["Retry-After"] = "60"
        return response
    return redirect("alert_sent", slug=service.slug)


@never_cache
def alert_sent(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_object_or_404(Service, slug=slug)
    return render(request, "alerts/alert_sent.html", {"service": service})


def _invalid_link(request: HttpRequest) -> HttpResponse:
    return render(request, "alerts/link_invalid.html", status=400)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def alert_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button and POST confirms: mail scanners open links, and an open link must
    not stand for a person's yes."""
    try:
        signup = confirm_token_read(token)
    except TokenInvalid:
        return _invalid_link(request)
    service = Service.objects.filter(id=signup.service_id).first()
    if service is None:
        return _invalid_link(request)
    context = {"service": service, "signup": signup, "place": country_name(signup.country)}
    if request.method != "POST":
        return render(request, "alerts/confirm.html", context)
    try:
        alert = email_alert_confirm(token=token)
    except TokenInvalid:
        return _invalid_link(request)
    return render(request, "alerts/confirmed.html", context | {"alert": alert})


@csrf_exempt  # RFC 8058: the mail provider POSTs from its own servers, with no token of ours
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def alert_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button; POST (the button, or a mail program's one-click
    "List-Unsubscribe=One-Click") removes the alert and its address."""
    try:
        alert_id = unsubscribe_token_read(token)
    except TokenInvalid:
        return _invalid_link(request)
    alert = Alert.objects.select_related("service").filter(id=alert_id).first()
    if request.method != "POST":
        return render(request, "alerts/unsubscribe.html", {"alert": alert, "token": token})
    removed = alert_remove(alert_id=alert_id)
    return render(
        request,
        "alerts/unsubscribed.html",
        {"service": alert.service if alert else None, "removed": removed},
    )
