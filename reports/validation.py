"""The rules a report must pass, shared by the form, the single-report API and the batch API.

Plain Python rather than a DRF serializer per item: a 10,000-report batch must validate in
tens of milliseconds, and DRF field machinery costs ~100 µs an item.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils.translation import gettext as _

from common.regions import countries, subdivisions
from common.text import field_name, text_problem
from outages.models import PROBLEM_LABELS
from outages.selectors import ServiceInfo

COMMENT_MAX = 280
FIELDS = ("service", "problem", "country", "subdivision", "comment")
REQUIRED = ("service", "problem", "country")
# A batch item's observed_at: a day back covers a partner's outage overnight, and keeps every
# late minute inside what detection holds per minute (30 hours) and far inside raw retention;
# 60 s ahead allows for clock skew, no more.
OBSERVED_MAX_AGE = timedelta(hours=24)
OBSERVED_MAX_AHEAD = timedelta(seconds=60)
# The longest ISO 8601 time worth parsing: 2026-12-01T15:04:05.123456+05:30 is 32.
OBSERVED_MAX_LENGTH = 40
ISO_EXPECTED = "Must be an ISO 8601 date and time with a UTC offset, e.g. 2026-12-01T14:05:00Z."


@dataclass(frozen=True, slots=True)
class CleanReport:
    service_id: int
    problem: str
    country: str
    subdivision: str
    comment: str


Errors = dict[str, list[str]]


def clean_report(
    data: Any, services: Mapping[str, ServiceInfo], extra_fields: tuple[str, ...] = ()
) -> tuple[CleanReport | None, Errors]:
    if not isinstance(data, Mapping):
        return None, {"non_field_errors": ["Expected a JSON object."]}
    errors: Errors = {}
    for key in data:
        if key not in FIELDS and key not in extra_fields:
            # The name is echoed back, so it must be encodable itself.
            errors[field_name(key)] = ["Unknown field."]
    values: dict[str, str] = {}
    for key in FIELDS:
        value = data.get(key)
        if value is None or value == "":
            if key in REQUIRED:
                errors[key] = ["This field is required."]
            values[key] = ""
        elif not isinstance(value, str):
            errors[key] = ["Must be a string."]
            values[key] = ""
        elif unstorable := text_problem(value):
            # Checked first: the rules below look the value up and quote it in their errors.
            errors[key] = [unstorable]
            values[key] = ""
        elif key == "comment":
            if len(value) > COMMENT_MAX:
                # The raw length, as the schema's maxLength counts it.
                errors[key] = [f"At most {COMMENT_MAX} characters (got {len(value)})."]
            values[key] = value.strip()
        else:
            # Codes are exact tokens: what the schema's patterns admit, no padding.
            values[key] = value

    service = None
    if values["service"]:
        service = services.get(values["service"].lower())
        if service is None:
            errors["service"] = [f"Unknown service '{values['service'][:64]}'."]

    problem = values["problem"].lower()
    if problem and service is not None and problem not in service.problems:
        offered = ", ".join(service.problems)
        errors["problem"] = [
            f"'{problem[:32]}' is not a problem type offered by {service.name}; "
            f"choose one of: {offered}."
        ]
    elif problem and service is None and problem not in PROBLEM_LABELS:
        errors["problem"] = [f"Unknown problem type '{problem[:32]}'."]

    country = values["country"].upper()
    if country and country not in countries():
        errors["country"] = [f"Unknown country code '{country[:8]}' (ISO 3166-1 alpha-2 expected)."]

    subdivision = values["subdivision"].upper()
    if subdivision:
        if "-" not in subdivision and country:
            subdivision = f"{country}-{subdivision}"
        known = subdivisions().get(subdivision)
        if known is None:
            # In the form's language on the form (the JSON API is in English).
            errors["subdivision"] = [
                _("Unknown subdivision '%(code)s' (ISO 3166-2 expected, e.g. US-CA).")
                % {"code": subdivision[:12]}
            ]
        elif country and known[0] != country:
            errors["subdivision"] = [
                _("Subdivision '%(code)s' is not in country '%(country)s'.")
                % {"code": subdivision, "country": country}
            ]

    comment = values["comment"]

    if errors or service is None:
        return None, errors
    return CleanReport(service.id, problem, country, subdivision, comment), {}


def clean_observed_at(value: Any, *, now: datetime) -> tuple[datetime | None, str | None]:
    """A batch item's `observed_at`: an ISO 8601 time with its UTC offset, at most a day old
    and at most a minute ahead of `now`. Returns (the time in UTC, None) or (None, the error)."""
    if not isinstance(value, str) or len(value) > OBSERVED_MAX_LENGTH or text_problem(value):
        return None, ISO_EXPECTED
    try:
        at = datetime.fromisoformat(value)
        if at.tzinfo is None or at.utcoffset() is None:
            return None, "Needs a UTC offset (Z or +hh:mm): a time without one is ambiguous."
        # Year 1 or 9999 shifted by its offset leaves the range of datetime.
        at = at.astimezone(UTC)
    except (ValueError, OverflowError):
        return None, ISO_EXPECTED
    if at < now - OBSERVED_MAX_AGE:
        return None, "At most 24 hours old."
    if at > now + OBSERVED_MAX_AHEAD:
        return None, "At most 60 seconds ahead of the server's clock."
    return at, None


RECOVERY_FIELDS = ("service", "country", "subdivision")


@dataclass(frozen=True, slots=True)
class CleanRecovery:
    service_id: int
    country: str
    subdivision: str


def clean_recovery(
    data: Any, services: Mapping[str, ServiceInfo]
) -> tuple[CleanRecovery | None, Errors]:
    """ "It works again for me": the service and where, under the same rules as a report's
    service, country and subdivision (and no other field)."""
    if not isinstance(data, Mapping):
        return None, {"non_field_errors": ["Expected a JSON object."]}
    errors: Errors = {
        field_name(key): ["Unknown field."] for key in data if key not in RECOVERY_FIELDS
    }
    shared = {key: data[key] for key in RECOVERY_FIELDS if key in data}
    # Any problem the service offers: the report rules then judge only the shared fields.
    slug = shared.get("service")
    service = services.get(slug.lower()) if isinstance(slug, str) else None
    shared["problem"] = service.problems[0] if service and service.problems else "other"
    clean, report_errors = clean_report(shared, services)
    errors.update(report_errors)
    if errors or clean is None:
        return None, errors
    return CleanRecovery(clean.service_id, clean.country, clean.subdivision), {}
