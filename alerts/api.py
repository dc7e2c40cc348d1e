"""The push subscription API the alert page's script calls: one view per operation. Plain
API requests (no session, no cookie), so there is no CSRF token to carry."""

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import translation
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.limits import Limited
from alerts.models import AlertEvent
from alerts.services import push_alert_subscribe, push_alert_unsubscribe
from common.api import ErrorSerializer, StrictInputSerializer, error_response, language_codes
from common.http import client_ip
from common.regions import countries
from outages.models import Service
from outages.webhooks import webhook_url_problem


def _place(value: str) -> str:
    code = value.upper()
    if code and code not in countries():
        raise serializers.ValidationError("Not an ISO 3166-1 country code.")
    return code


# The browser's keys, base64url without padding: a P-256 point of 65 bytes, a 16-byte secret.
class PushKeysSerializer(StrictInputSerializer):
    p256dh = serializers.RegexField(r"^[A-Za-z0-9_-]{87}$", help_text="65 bytes, base64url")
    auth = serializers.RegexField(r"^[A-Za-z0-9_-]{22}$", help_text="16 bytes, base64url")


class PushSubscriptionSerializer(StrictInputSerializer):
    endpoint = serializers.URLField(max_length=1000)
    # PushSubscription.toJSON() includes it (null for no expiry).
    expirationTime = serializers.IntegerField(required=False, allow_null=True)  # noqa: N815
    keys = PushKeysSerializer()

    def validate_endpoint(self, value: str) -> str:
        problem = webhook_url_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


class PushSubscribeApi(APIView):
    class PushSubscribeInputSerializer(StrictInputSerializer):
        service = serializers.SlugField(help_text="service slug, e.g. tiktok")
        country = serializers.CharField(
            max_length=2, allow_blank=True, default="", help_text="ISO 3166-1; empty: worldwide"
        )
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=AlertEvent.values),
            min_length=1,
            max_length=2,
            help_text="opened: when it has problems; resolved: when it is back",
        )
        subscription = PushSubscriptionSerializer(
            help_text="the browser's PushSubscription.toJSON()"
        )

        def validate_country(self, value: str) -> str:
            return _place(value)

    class PushSubscribeOutputSerializer(serializers.Serializer):
        service = serializers.CharField()
        country = serializers.CharField()
        events = serializers.ListField(child=serializers.CharField())

    @extend_schema(
        operation_id="alerts_push_subscribe",
        summary="Send this browser push alerts for a service",
        parameters=[
            OpenApiParameter(
                "lang",
                str,
                enum=language_codes(),
                description="language of the notifications (default en; the alert page "
                "sends its own)",
            )
        ],
        request=PushSubscribeInputSerializer,
        responses={
            201: PushSubscribeOutputSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            429: ErrorSerializer,
        },
        tags=["alerts"],
    )
    def post(self, request: Request) -> Response:
        # The API is unprefixed, so in English: the page says which language it is in.
        language = request.query_params.get("lang", translation.get_language() or "en")
        if language not in language_codes():
            raise serializers.ValidationError(
                {"lang": [f"Must be one of: {', '.join(language_codes())}."]}
            )
        data: dict[str, Any] = self._valid(request)
        service = get_object_or_404(Service, slug=data["service"].lower())
        subscription = data["subscription"]
        try:
            alert = push_alert_subscribe(
                service=service,
                country=data["country"],
                endpoint=subscription["endpoint"],
                p256dh=subscription["keys"]["p256dh"],
                auth=subscription["keys"]["auth"],
                on_open=AlertEvent.OPENED in data["events"],
                on_resolve=AlertEvent.RESOLVED in data["events"],
                language=language,
                ip=client_ip(request),
            )
        except Limited as limited:
            return error_response(
                status_code=429,
                code="rate_limited",
                message="Too many sign-ups from this address.",
                fields={limited.field: ["Over the limit; try again later."]},
                headers={"Retry-After": str(limited.retry_after)},
            )
        events = [e for e, on in (("opened", alert.on_open), ("resolved", alert.on_resolve)) if on]
        body = {"service": service.slug, "country": alert.country, "events": events}
        return Response(
            self.PushSubscribeOutputSerializer(body).data, status=status.HTTP_201_CREATED
        )

    def _valid(self, request: Request) -> dict[str, Any]:
        serializer = self.PushSubscribeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class PushUnsubscribeApi(APIView):
    class PushUnsubscribeInputSerializer(StrictInputSerializer):
        service = serializers.SlugField()
        country = serializers.CharField(max_length=2, allow_blank=True, default="")
        endpoint = serializers.URLField(max_length=1000)

        def validate_country(self, value: str) -> str:
            return _place(value)

    @extend_schema(
        operation_id="alerts_push_unsubscribe",
        summary="Stop this browser's push alerts for a service",
        request=PushUnsubscribeInputSerializer,
        responses={
            204: OpenApiResponse(description="removed, or there was none"),
            400: ErrorSerializer,
            404: ErrorSerializer,
        },
        tags=["alerts"],
    )
    def post(self, request: Request) -> Response:
        serializer = self.PushUnsubscribeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        service = get_object_or_404(Service, slug=data["service"].lower())
        push_alert_unsubscribe(service=service, country=data["country"], endpoint=data["endpoint"])
        return Response(status=status.HTTP_204_NO_CONTENT)
