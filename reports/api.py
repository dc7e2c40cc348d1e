from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError
from django.http.request import RawPostDataException
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import ErrorSerializer, PayloadTooLarge, StrictInputSerializer, country_code_field
from common.http import client_ip
from common.regions import country_name, subdivision_name
from common.text import field_name, text_problem
from outages.models import PROBLEM_LABELS
from outages.selectors import (
    ServiceInfo,
    catalogue_forget,
    incidents_open,
    service_info_cached,
    service_infos,
)
from reports.abuse import rate_limit_retry_after
from reports.models import Report, Source
from reports.services import (
    Submission,
    client_key_for,
    recovery_submit,
    report_accept,
    report_create_many,
)
from reports.validation import CleanReport, clean_observed_at, clean_recovery, clean_report

# The error list of a bad batch is capped so a 10,000-item mistake stays readable.
MAX_ITEM_ERRORS = 200
# What a batch item may carry besides a report's fields.
BATCH_EXTRA_FIELDS = ("client_id", "observed_at")


def request_data(request: Request) -> Any:
    try:
        return request.data
    except RequestDataTooBig:
        raise PayloadTooLarge() from None
    except RawPostDataException:
        raise exceptions.ParseError("Request body could not be read.") from None


# Renders created_at exactly as a serializer's DateTimeField does (ISO 8601, UTC as "Z").
CREATED_AT_FIELD = serializers.DateTimeField(read_only=True)


def report_output(report: Report, service_slug: str) -> dict[str, Any]:
    """A created report as the API returns it.

    Built directly rather than by a ModelSerializer: that rebuilds its fields from the model on
    every instance, and reading `report.service` for the slug would cost a query for a service
    the request has just looked up. Together they were a quarter of a single report's time.
    """
    return {
        "id": report.id,
        "service": service_slug,
        "problem": report.problem,
        "country": report.country,
        "country_name": country_name(report.country),
        "subdivision": report.subdivision,
        "subdivision_name": subdivision_name(report.subdivision) if report.subdivision else "",
        "comment": report.comment,
        "source": str(report.source),
        "created_at": CREATED_AT_FIELD.to_representation(report.created_at),
    }


# ISO 3166-2: the country's code, a hyphen and one to three letters or digits; the country
# prefix may be left out. Empty (allow_blank) means none.
SUBDIVISION_PATTERN = r"^([A-Za-z]{2}-)?[A-Za-z0-9]{1,3}$"


# Documentation of the intake for the OpenAPI schema. Validation itself is
# reports.validation.clean_report (fast, shared with the form and the batch), not these; the
# schema states what it enforces (patterns, enum, lengths, no other fields).
class ReportInputSerializer(StrictInputSerializer):
    service = serializers.SlugField(help_text="service slug, e.g. tiktok (any letter case)")
    problem = serializers.ChoiceField(
        choices=list(PROBLEM_LABELS),
        help_text="one of the problem codes the service offers (any letter case)",
    )
    country = country_code_field()
    subdivision = serializers.RegexField(
        SUBDIVISION_PATTERN,
        required=False,
        allow_blank=True,
        max_length=6,
        help_text="ISO 3166-2 within the country, e.g. US-CA or CA (any letter case)",
    )
    comment = serializers.CharField(
        required=False, max_length=280, allow_blank=True, help_text="plain text, no NUL"
    )


class ReportOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    service = serializers.CharField()
    problem = serializers.CharField()
    country = serializers.CharField()
    country_name = serializers.CharField()
    subdivision = serializers.CharField()
    subdivision_name = serializers.CharField()
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_fields(self) -> dict[str, Any]:
        # A declared attribute named `source` would shadow Field.source.
        fields = super().get_fields()
        fields["source"] = serializers.CharField(help_text='"api"')
        return fields


class ReportNotCountedSerializer(serializers.Serializer):
    counted = serializers.BooleanField()
    detail = serializers.CharField()


class BatchItemSerializer(ReportInputSerializer):
    client_id = serializers.CharField(
        required=False,
        max_length=128,
        allow_blank=True,
        help_text="your anonymous id of the reporting user",
    )
    observed_at = serializers.DateTimeField(
        required=False,
        help_text=(
            "when the user reported it, if earlier than this call (a backlog sent late): "
            "ISO 8601 with a UTC offset, at most 24 hours old and at most 60 s ahead. The "
            "report is counted in that minute. Absent: the time of this call."
        ),
    )


class BatchInputSerializer(StrictInputSerializer):
    def get_fields(self) -> dict[str, Any]:
        # Built when the schema is, so its maxItems is the limit configured now.
        fields = super().get_fields()
        fields["reports"] = serializers.ListField(
            child=BatchItemSerializer(),
            min_length=1,
            max_length=settings.BATCH_MAX_REPORTS,
            help_text="1 to BATCH_MAX_REPORTS (default 10,000) reports",
        )
        return fields


class BatchOutputSerializer(serializers.Serializer):
    created = serializers.IntegerField()


def _not_counted(detail: str) -> Response:
    return Response({"counted": False, "detail": detail}, status=status.HTTP_200_OK)


def submission_answer(
    submission: Submission, services: Mapping[str, ServiceInfo], clean: CleanReport
) -> tuple[dict[str, Any], int]:
    """The body and status of the answer to a single report the abuse controls let through
    (a 429 is the caller's): 201 with the stored report, or 200 saying why it is not counted.
    Shared by the view and the intake front (web.intake), which answer alike."""
    report = submission.report
    window = settings.REPORT_DEDUPE_WINDOW // 60
    if report is None:
        detail = f"Already counted: one report per service every {window} minutes from each client."
        return {"counted": False, "detail": detail}, status.HTTP_200_OK
    if not submission.counted:
        detail = (
            f"Stored, not counted: at most {settings.REPORT_ADDRESS_LIMIT} reports about "
            f"a service are counted from one address every {window} minutes."
        )
        return {"counted": False, "detail": detail}, status.HTTP_200_OK
    service_slug = next(s.slug for s in services.values() if s.id == clean.service_id)
    return report_output(report, service_slug), status.HTTP_201_CREATED


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class ReportCreateApi(APIView):
    """POST /api/v1/reports: one report, open to everyone, under the abuse controls.

    Input (JSON): service (slug), problem, country (ISO 3166-1 alpha-2), optional
    subdivision (ISO 3166-2), optional comment (≤ 280 characters). The rules live in
    reports.validation so the form and the batch API apply exactly the same ones.
    """

    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="report_create",
        summary="Report a problem with a service (open to everyone, rate-limited per IP)",
        request=ReportInputSerializer,
        responses={
            201: ReportOutputSerializer,
            200: OpenApiResponse(
                ReportNotCountedSerializer,
                description=(
                    "Not counted: a repeat (one report per service per client every 15 min; "
                    "nothing stored), or over the address's cap (REPORT_ADDRESS_LIMIT counted "
                    "reports per service every 15 min; stored, not counted)."
                ),
            ),
            400: _error("Invalid report; `fields` names the field."),
            413: _error("Body too large."),
            415: _error("Send Content-Type: application/json."),
            429: _error("Too many reports from this address; see Retry-After."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        ip = client_ip(request)
        try:
            data = request_data(request)
            services = named_service(data)
            clean, errors = clean_report(data, services)
        except exceptions.APIException:
            _count_refused(ip)
            raise
        if clean is None:
            _count_refused(ip)
            raise exceptions.ValidationError(errors)
        try:
            submission = report_accept(
                report=clean, source=Source.API, client_key=client_key_for(ip), ip=ip
            )
        except IntegrityError:
            # The service was removed since this process last read the catalogue.
            catalogue_forget()
            raise exceptions.ValidationError({"service": ["Unknown service."]}) from None
        if submission.retry_after is not None:
            raise exceptions.Throttled(wait=submission.retry_after)
        return Response(*submission_answer(submission, services, clean))


def named_service(data: Any) -> dict[str, ServiceInfo]:
    """The catalogue entry of the body's `service`, if it names one. Only a slug the database
    can be asked about is looked up; the validation words the error otherwise."""
    slug = data.get("service") if isinstance(data, dict) else None
    if isinstance(slug, str) and slug and text_problem(slug) is None:
        return service_info_cached(slug=slug)
    return {}


def _count_refused(ip: str) -> None:
    """A refused request counts against its address's rate limit as an accepted one does (the
    limit is on requests), and over the limit its answer is the 429."""
    retry_after = rate_limit_retry_after(ip=ip)
    if retry_after is not None:
        raise exceptions.Throttled(wait=retry_after)


class ReportBatchCreateApi(APIView):
    """POST /api/v1/reports/batch: {"reports": [...]} of up to BATCH_MAX_REPORTS items.

    Token holders only. All-or-nothing: any invalid item rejects the whole batch with
    per-item errors ("reports[3].country"). Items may carry a `client_id` (the partner's
    anonymous user id), hashed into the stored client key, and an `observed_at` (a backlog
    sent late is counted in the minutes it happened, not as a burst now).
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="report_batch_create",
        summary="Submit many reports at once (token holders; all-or-nothing)",
        request=BatchInputSerializer,
        responses={
            201: BatchOutputSerializer,
            400: _error("An invalid item rejects the batch; fields like reports[3].country."),
            401: _error("A token is required: Authorization: Token <key>."),
            413: _error("Body too large."),
            415: _error("Send Content-Type: application/json."),
        },
    )
    def post(self, request: Request) -> Response:
        data = request_data(request)
        if not isinstance(data, dict) or not isinstance(data.get("reports"), list):
            raise exceptions.ValidationError({"reports": ["Expected a list of report objects."]})
        unknown = {field_name(k): ["Unknown field."] for k in data if k != "reports"}
        if unknown:
            raise exceptions.ValidationError(unknown)
        items = data["reports"]
        try:
            created = _batch_create(items, user_id=request.user.pk)
        finally:
            # DRF keeps the parsed body on its request, and the request, the view and the
            # response refer to one another: a cycle, freed only by a full garbage collection
            # that may come several batches later. Emptying the list frees a batch's ~10,000
            # parsed items now, so a worker holds one batch at a time, not several.
            items.clear()
        return Response({"created": created}, status=status.HTTP_201_CREATED)


def _batch_create(items: list[Any], *, user_id: int | None) -> int:
    """Validate a batch's items all-or-nothing and store them; ValidationError names each bad
    item's fields ("reports[3].country")."""
    limit = settings.BATCH_MAX_REPORTS
    if not items:
        raise exceptions.ValidationError({"reports": ["Expected at least one report."]})
    if len(items) > limit:
        raise exceptions.ValidationError(
            {"reports": [f"At most {limit} reports per call (got {len(items)})."]}
        )
    services = service_infos()
    now = timezone.now()
    clean: list[CleanReport] = []
    keys: list[str] = []
    observed: list[datetime | None] = []
    errors: dict[str, list[str]] = {}
    bad = 0
    for i, item in enumerate(items):
        report, item_errors = clean_report(item, services, extra_fields=BATCH_EXTRA_FIELDS)
        client_id = item.get("client_id", "") if isinstance(item, dict) else ""
        at, at_error = None, None
        if isinstance(item, dict) and "observed_at" in item:
            # null is not "absent": the schema's date-time admits no null.
            at, at_error = clean_observed_at(item["observed_at"], now=now)
        if at_error:
            item_errors["observed_at"] = [at_error]
        if not isinstance(client_id, str) or len(client_id) > 128:
            item_errors["client_id"] = ["Must be a string of at most 128 characters."]
        elif unstorable := text_problem(client_id):
            # It is hashed as UTF-8 into the client key.
            item_errors["client_id"] = [unstorable]
        if item_errors or report is None:
            bad += 1
            if len(errors) < MAX_ITEM_ERRORS:
                for field, messages in item_errors.items():
                    errors[f"reports[{i}].{field}"] = messages
            continue
        clean.append(report)
        keys.append(client_key_for(f"batch:{user_id}:{client_id}"))
        observed.append(at)
    if bad:
        raise exceptions.ValidationError(errors)
    return report_create_many(
        reports=clean,
        client_keys=keys,
        source=Source.BATCH,
        created_at=now,
        observed_at=observed,
    )


class RecoveryInputSerializer(StrictInputSerializer):
    service = serializers.SlugField(help_text="service slug, e.g. tiktok (any letter case)")
    country = country_code_field()
    subdivision = serializers.RegexField(
        SUBDIVISION_PATTERN,
        required=False,
        allow_blank=True,
        max_length=6,
        help_text="ISO 3166-2 within the country, e.g. US-CA or CA (any letter case)",
    )


class RecoveryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    service = serializers.CharField()
    country = serializers.CharField()
    subdivision = serializers.CharField()
    created_at = serializers.DateTimeField()


class RecoveryCreateApi(APIView):
    """POST /api/v1/recoveries: "it works again for me", while the service has an open
    incident; the same validation, rate limit, dedupe and address cap as a report. Never
    counted as a problem report; it can only make an incident close sooner."""

    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="recovery_create",
        summary="Say a service works again for you (while it has an open incident)",
        request=RecoveryInputSerializer,
        responses={
            201: RecoveryOutputSerializer,
            200: OpenApiResponse(
                ReportNotCountedSerializer,
                description="Not counted: a repeat (nothing stored), or over the address's cap.",
            ),
            400: _error("Invalid input; `fields` names the field."),
            409: _error("The service has no open incident: nothing to recover from."),
            413: _error("Body too large."),
            415: _error("Send Content-Type: application/json."),
            429: _error("Too many reports from this address; see Retry-After."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        ip = client_ip(request)
        retry_after = rate_limit_retry_after(ip=ip)
        if retry_after is not None:
            raise exceptions.Throttled(wait=retry_after)
        data = request_data(request)
        services = named_service(data)
        clean, errors = clean_recovery(data, services)
        if clean is None:
            raise exceptions.ValidationError(errors)
        if not incidents_open(service_id=clean.service_id):
            raise NoOpenIncident()
        submission = recovery_submit(
            recovery=clean, source=Source.API, client_key=client_key_for(ip), ip=ip
        )
        window = settings.REPORT_DEDUPE_WINDOW // 60
        if submission.recovery is None:
            return _not_counted(f"Already counted: once per service every {window} minutes.")
        if not submission.counted:
            return _not_counted(
                f"Stored, not counted: at most {settings.REPORT_ADDRESS_LIMIT} per service are "
                f"counted from one address every {window} minutes."
            )
        stored = submission.recovery
        service_slug = next(s.slug for s in services.values() if s.id == clean.service_id)
        return Response(
            {
                "id": stored.id,
                "service": service_slug,
                "country": stored.country,
                "subdivision": stored.subdivision,
                "created_at": CREATED_AT_FIELD.to_representation(stored.created_at),
            },
            status=status.HTTP_201_CREATED,
        )


class NoOpenIncident(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This service has no open incident: nothing to recover from."
    default_code = "no_open_incident"
