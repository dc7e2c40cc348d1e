import secrets
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.views.decorators.http import require_GET

from common.api import error_json
from common.http import client_ip
from common.regions import countries, subdivisions_of
from outages.models import Service
from outages.selectors import ServiceInfo, incidents_open
from reports.abuse import rate_limit_retry_after
from reports.forms import RecoveryForm, ReportForm
from reports.models import Source
from reports.selectors import report_count_since
from reports.services import client_key_for, recovery_submit, report_submit
from reports.validation import clean_recovery, clean_report

BROWSER_COOKIE = "or_bid"
COUNTRY_COOKIE = "or_country"
YEAR = 365 * 24 * 3600


def preferred_country(request: HttpRequest) -> str:
    """The last country chosen here, else the region of the first Accept-Language tag."""
    last = request.COOKIES.get(COUNTRY_COOKIE, "").upper()
    if last in countries():
        return last
    for part in request.META.get("HTTP_ACCEPT_LANGUAGE", "").split(","):
        tag = part.split(";")[0].strip().replace("_", "-")
        pieces = tag.split("-")
        if len(pieces) >= 2 and pieces[-1].upper() in countries() and len(pieces[-1]) == 2:
            return pieces[-1].upper()
    return ""


# Salt of the browser cookie's signature (with SECRET_KEY): a value signed for another
# purpose does not pass for a browser id.
BROWSER_COOKIE_SALT = "reports.browser"


def browser_id(request: HttpRequest) -> str | None:
    """The browser id this server issued, or None for a cookie that is absent, unsigned or
    forged: an id a client makes up for itself is no identity (fresh ones at will would each
    be counted)."""
    value = request.get_signed_cookie(
        BROWSER_COOKIE, default=None, salt=BROWSER_COOKIE_SALT, max_age=YEAR
    )
    if value is not None and 16 <= len(value) <= 64 and value.isalnum():
        return str(value)
    return None


def browser_identity(request: HttpRequest) -> str:
    bid = browser_id(request)
    return f"browser:{bid}" if bid is not None else f"ip:{client_ip(request)}"


def _with_browser_cookie(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if browser_id(request) is None:
        response.set_signed_cookie(
            BROWSER_COOKIE,
            secrets.token_hex(16),
            salt=BROWSER_COOKIE_SALT,
            max_age=YEAR,
            httponly=True,
            samesite="Lax",
            # HTTPS-only wherever the session's is (SESSION_COOKIE_SECURE, on in production).
            secure=settings.SESSION_COOKIE_SECURE,
        )
    return response


def _rate_limited(request: HttpRequest, service: Service) -> HttpResponse | None:
    """Count the post against its address's rate limit; the 429 page when over it."""
    retry_after = rate_limit_retry_after(ip=client_ip(request))
    if retry_after is None:
        return None
    response = render(
        request,
        "reports/rate_limited.html",
        {"service": service, "retry_after": retry_after},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return _with_browser_cookie(request, response)


def report_form(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_object_or_404(Service, slug=slug)
    country = preferred_country(request)
    if request.method == "POST":
        limited = _rate_limited(request, service)
        if limited is not None:
            return limited
        form = ReportForm(request.POST, service=service, country=country)
        if form.is_valid():
            if form.cleaned_data["website"]:
                # Honeypot filled: look successful, store nothing.
                return redirect("report_thanks", slug=service.slug)
            info = {
                service.slug: ServiceInfo(
                    service.id, service.slug, service.name, tuple(service.problems)
                )
            }
            data = {
                k: form.cleaned_data[k] for k in ("problem", "country", "subdivision", "comment")
            }
            clean, errors = clean_report({"service": service.slug, **data}, info)
            if clean is not None:
                submission = report_submit(
                    report=clean,
                    source=Source.WEB,
                    client_key=client_key_for(browser_identity(request)),
                    ip=client_ip(request),
                )
                if submission.report is None:
                    target = "report_already"
                elif submission.counted:
                    target = "report_thanks"
                else:
                    target = "report_received"
                response = redirect(target, slug=service.slug)
                response.set_cookie(
                    COUNTRY_COOKIE,
                    clean.country,
                    max_age=YEAR,
                    samesite="Lax",
                    secure=settings.SESSION_COOKIE_SECURE,
                )
                return _with_browser_cookie(request, response)
            for field, messages in errors.items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
        status = 400
    else:
        form = ReportForm(service=service, country=country)
        status = 200
    page = render(
        request, "reports/report_form.html", {"service": service, "form": form}, status=status
    )
    return _with_browser_cookie(request, page)


@require_GET
def report_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    return _confirmation(request, slug, state="counted")


@require_GET
def report_received(request: HttpRequest, slug: str) -> HttpResponse:
    return _confirmation(request, slug, state="received")


@require_GET
def report_already(request: HttpRequest, slug: str) -> HttpResponse:
    return _confirmation(request, slug, state="already")


def _confirmation(request: HttpRequest, slug: str, *, state: str) -> HttpResponse:
    service = get_object_or_404(Service, slug=slug)
    window = timedelta(minutes=15)
    # A first report without a valid browser cookie was stored under the address's key, and
    # the cookie issued with it is already back here: leave out both, not count one's own.
    own = {client_key_for(browser_identity(request)), client_key_for(f"ip:{client_ip(request)}")}
    others = report_count_since(
        service_id=service.id,
        since=timezone.now() - window,
        exclude_client_keys=tuple(sorted(own)),
    )
    context = {
        "service": service,
        "others": others,
        "state": state,
        "dedupe_minutes": settings.REPORT_DEDUPE_WINDOW // 60,
    }
    return render(request, "reports/report_thanks.html", context)


@require_GET
def subdivisions_json(request: HttpRequest, country: str) -> JsonResponse:
    code = country.upper()
    if code not in countries():
        return error_json(
            status_code=404, code="not_found", message=f"Unknown country '{code[:8]}'."
        )
    # Names in the form's language (?lang=, one of the site's); English otherwise.
    lang = request.GET.get("lang", settings.LANGUAGE_CODE)
    if lang not in {c for c, _ in settings.LANGUAGES}:
        return error_json(
            status_code=400,
            code="invalid",
            message="Invalid input: lang.",
            fields={"lang": ["Not one of the site's languages."]},
        )
    with translation.override(lang):
        items = [{"code": c, "name": n} for c, n in subdivisions_of(code)]
    return JsonResponse({"country": code, "subdivisions": items})


def recovery_form(request: HttpRequest, slug: str) -> HttpResponse:
    """ "It works again for me": only while the service has an open incident."""
    service = get_object_or_404(Service, slug=slug)
    country = preferred_country(request)
    is_open = bool(incidents_open(service_id=service.id))
    status = 200
    form = RecoveryForm(country=country)
    if request.method == "POST" and is_open:
        limited = _rate_limited(request, service)
        if limited is not None:
            return limited
        form = RecoveryForm(request.POST, country=country)
        if form.is_valid():
            info = {
                service.slug: ServiceInfo(
                    service.id, service.slug, service.name, tuple(service.problems)
                )
            }
            data = {k: form.cleaned_data[k] for k in ("country", "subdivision")}
            clean, errors = clean_recovery({"service": service.slug, **data}, info)
            if clean is not None:
                recovery_submit(
                    recovery=clean,
                    source=Source.WEB,
                    client_key=client_key_for(browser_identity(request)),
                    ip=client_ip(request),
                )
                response = redirect("recovery_thanks", slug=service.slug)
                return _with_browser_cookie(request, response)
            for field, messages in errors.items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
        status = 400
    elif request.method == "POST":
        status = 409
    page = render(
        request,
        "reports/recovery_form.html",
        {"service": service, "form": form, "is_open": is_open},
        status=status,
    )
    return _with_browser_cookie(request, page)


@require_GET
def recovery_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_object_or_404(Service, slug=slug)
    return render(request, "reports/recovery_thanks.html", {"service": service})
