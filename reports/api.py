from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http.request import RawPostDataException
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from outages.api_errors import PayloadTooLarge
from outages.models import Service
from outages.regions import country_name, subdivision_name
from outages.selectors import service_info, service_infos
from reports.abuse import client_ip, rate_limit_retry_after
from reports.models import Report, Source
from reports.services import client_key_for, report_create_many, report_submit
from reports.validation import CleanReport, clean_report

# The error list of a bad batch is capped so a 10,000-item mistake stays readable.
MAX_ITEM_ERRORS = 200


def request_data(request: Request) -> Any:
    try:
        return request.data
    except RequestDataTooBig:
        raise PayloadTooLarge() from None
    except RawPostDataException:
        raise exceptions.ParseError("Request body could not be read.") from None


class ReportOutputSerializer(serializers.ModelSerializer[Report]):
    service: serializers.SlugRelatedField[Service] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    country_name = serializers.SerializerMethodField()
    subdivision_name = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "id",
            "service",
            "problem",
            "country",
            "country_name",
            "subdivision",
            "subdivision_name",
            "comment",
            "source",
            "created_at",
        ]

    def get_country_name(self, obj: Report) -> str:
        return country_name(obj.country)

    def get_subdivision_name(self, obj: Report) -> str:
        return subdivision_name(obj.subdivision) if obj.subdivision else ""


class ReportCreateApi(APIView):
    """POST /api/v1/reports: one report, open to everyone, under the abuse controls.

    Input (JSON): service (slug), problem, country (ISO 3166-1 alpha-2), optional
    subdivision (ISO 3166-2), optional comment (≤ 280 characters). The rules live in
    reports.validation so the form and the batch API apply exactly the same ones.
    """

    authentication_classes: list[type] = []

    def post(self, request: Request) -> Response:
        ip = client_ip(request)
        retry_after = rate_limit_retry_after(ip=ip)
        if retry_after is not None:
            raise exceptions.Throttled(wait=retry_after)
        data = request_data(request)
        slug = data.get("service") if isinstance(data, dict) else None
        services = service_info(slug=slug) if isinstance(slug, str) and slug else {}
        clean, errors = clean_report(data, services)
        if clean is None:
            raise exceptions.ValidationError(errors)
        report = report_submit(report=clean, source=Source.API, client_key=client_key_for(ip))
        if report is None:
            window = settings.REPORT_DEDUPE_WINDOW // 60
            return Response(
                {
                    "counted": False,
                    "detail": (
                        f"Already counted: one report per service every {window} minutes "
                        "from each client."
                    ),
                },
                status=status.HTTP_200_OK,
            )
        return Response(ReportOutputSerializer(report).data, status=status.HTTP_201_CREATED)


class ReportBatchCreateApi(APIView):
    """POST /api/v1/reports/batch: {"reports": [...]} of up to BATCH_MAX_REPORTS items.

    Token holders only. All-or-nothing: any invalid item rejects the whole batch with
    per-item errors ("reports[3].country"). Items may carry a `client_id` (the partner's
    anonymous user id), hashed into the stored client key.
    """

    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        data = request_data(request)
        if not isinstance(data, dict) or not isinstance(data.get("reports"), list):
            raise exceptions.ValidationError({"reports": ["Expected a list of report objects."]})
        items = data["reports"]
        limit = settings.BATCH_MAX_REPORTS
        if not items:
            raise exceptions.ValidationError({"reports": ["Expected at least one report."]})
        if len(items) > limit:
            raise exceptions.ValidationError(
                {"reports": [f"At most {limit} reports per call (got {len(items)})."]}
            )
        services = service_infos()
        user_id = request.user.pk
        clean: list[CleanReport] = []
        keys: list[str] = []
        errors: dict[str, list[str]] = {}
        bad = 0
        for i, item in enumerate(items):
            report, item_errors = clean_report(item, services, extra_fields=("client_id",))
            client_id = item.get("client_id", "") if isinstance(item, dict) else ""
            if not isinstance(client_id, str) or len(client_id) > 128:
                item_errors["client_id"] = ["Must be a string of at most 128 characters."]
            if item_errors or report is None:
                bad += 1
                if len(errors) < MAX_ITEM_ERRORS:
                    for field, messages in item_errors.items():
                        errors[f"reports[{i}].{field}"] = messages
                continue
            clean.append(report)
            keys.append(client_key_for(f"batch:{user_id}:{client_id}"))
        if bad:
            raise exceptions.ValidationError(errors)
        created = report_create_many(reports=clean, client_keys=keys, source=Source.BATCH)
        return Response({"created": created}, status=status.HTTP_201_CREATED)
