"""Webhook subscriptions of token holders: create, list, change, delete, and the latest
deliveries with every attempt. Never cached; throttled per token."""

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import (
    StrictBooleanField,
    StrictInputSerializer,
    TokenApi,
    country_code_field,
    errors,
)
from common.regions import countries
from outages import selectors, services, webhooks
from outages.models import Level, Service, Subscription


class SubscriptionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    services = serializers.SerializerMethodField(help_text="slugs; empty means all services")
    countries = serializers.ListField(
        child=serializers.CharField(), help_text="ISO codes; empty means everywhere"
    )
    min_level = serializers.ChoiceField(choices=[Level.POSSIBLE, Level.OUTAGE])
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def get_services(self, obj: Subscription) -> list[str]:
        return sorted(s.slug for s in obj.services.all())


class SubscriptionWithSecretSerializer(SubscriptionOutputSerializer):
    secret = serializers.CharField(
        help_text="HMAC-SHA256 key for X-Outage-Radar-Signature; shown on creation and "
        "rotation only"
    )


class SubscriptionInputSerializer(StrictInputSerializer):
    url = serializers.URLField(max_length=500, help_text="http(s) URL that receives the POSTs")
    services = serializers.ListField(
        child=serializers.SlugField(), required=False, default=list, max_length=500
    )
    countries = serializers.ListField(
        child=country_code_field(), required=False, default=list, max_length=300
    )
    min_level = serializers.ChoiceField(
        choices=[Level.POSSIBLE, Level.OUTAGE],
        default=Level.OUTAGE,
        help_text="notify about incidents that reached at least this level",
    )
    active = StrictBooleanField(default=True)

    def validate_url(self, value: str) -> str:
        problem = webhooks.webhook_url_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_services(self, value: list[str]) -> list[Service]:
        slugs = {v.lower() for v in value}
        found = list(Service.objects.filter(slug__in=slugs))
        unknown = slugs - {s.slug for s in found}
        if unknown:
            raise serializers.ValidationError(f"Unknown services: {', '.join(sorted(unknown))}.")
        return found

    def validate_countries(self, value: list[str]) -> list[str]:
        codes = [v.upper() for v in value]
        unknown = [c for c in codes if c not in countries()]
        if unknown:
            raise serializers.ValidationError(f"Unknown country codes: {', '.join(unknown)}.")
        return codes


class SubscriptionUpdateSerializer(SubscriptionInputSerializer):
    rotate_secret = StrictBooleanField(
        default=False, help_text="issue a new secret (returned in the response)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, partial=True, **kwargs)


def _django_errors(exc: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else exc.messages
    )


class SubscriptionListCreateApi(TokenApi):
    """GET /api/v1/subscriptions (yours) and POST /api/v1/subscriptions (a new webhook)."""

    @extend_schema(
        summary="Your webhook subscriptions",
        operation_id="subscriptions_list",
        responses={
            200: inline_serializer(
                "SubscriptionList", {"subscriptions": SubscriptionOutputSerializer(many=True)}
            ),
            **errors(401, 429),
        },
    )
    def get(self, request: Request) -> Response:
        rows = selectors.subscription_list(owner_id=_owner(request).pk)
        return Response({"subscriptions": SubscriptionOutputSerializer(rows, many=True).data})

    @extend_schema(
        summary="Subscribe a URL to incidents (the response holds the signing secret)",
        operation_id="subscription_create",
        request=SubscriptionInputSerializer,
        responses={201: SubscriptionWithSecretSerializer, **errors(400, 401, 429)},
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"body": ["Expected a JSON object."]})
        params = SubscriptionInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            subscription = services.subscription_create(
                owner=_owner(request), **params.validated_data
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None
        return Response(
            SubscriptionWithSecretSerializer(subscription).data, status=status.HTTP_201_CREATED
        )


def _owner(request: Request) -> User:
    # TokenApi requires authentication, so the user is a real account.
    assert isinstance(request.user, User)
    return request.user


def _own_subscription(request: Request, subscription_id: int) -> Subscription:
    subscription = selectors.subscription_get(
        owner_id=_owner(request).pk, subscription_id=subscription_id
    )
    if subscription is None:
        raise Http404
    return subscription


class SubscriptionDetailApi(TokenApi):
    """GET, PATCH and DELETE /api/v1/subscriptions/<id>."""

    @extend_schema(
        summary="One of your subscriptions",
        operation_id="subscription_detail",
        responses={200: SubscriptionOutputSerializer, **errors(401, 404, 429)},
    )
    def get(self, request: Request, subscription_id: int) -> Response:
        subscription = _own_subscription(request, subscription_id)
        return Response(SubscriptionOutputSerializer(subscription).data)

    @extend_schema(
        summary="Change a subscription (or rotate its secret)",
        operation_id="subscription_update",
        request=SubscriptionUpdateSerializer,
        responses={
            200: SubscriptionOutputSerializer,
            **errors(400, 401, 404, 429),
        },
        description="With rotate_secret=true the response also holds the new `secret`.",
    )
    def patch(self, request: Request, subscription_id: int) -> Response:
        subscription = _own_subscription(request, subscription_id)
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"body": ["Expected a JSON object."]})
        params = SubscriptionUpdateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        changes = dict(params.validated_data)
        rotate = changes.pop("rotate_secret", False)
        try:
            subscription = services.subscription_update(
                subscription=subscription, rotate_secret=rotate, **changes
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None
        output = SubscriptionWithSecretSerializer if rotate else SubscriptionOutputSerializer
        return Response(output(subscription).data)

    @extend_schema(
        summary="Delete a subscription",
        operation_id="subscription_delete",
        responses={204: None, **errors(401, 404, 429)},
    )
    def delete(self, request: Request, subscription_id: int) -> Response:
        services.subscription_delete(subscription=_own_subscription(request, subscription_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    duration_ms = serializers.IntegerField()


class DeliveryListApi(TokenApi):
    """GET /api/v1/subscriptions/<id>/deliveries: the latest deliveries and every attempt."""

    @extend_schema_serializer(component_name="WebhookDelivery")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        event = serializers.CharField()
        outage = serializers.IntegerField(
            source="incident_id", allow_null=True, help_text="null for an event's delivery"
        )
        wider_problem = serializers.IntegerField(
            source="outage_event_id",
            allow_null=True,
            help_text="the event (/api/v1/events/{id}) of an event_* delivery, else null",
        )
        status = serializers.ChoiceField(choices=["pending", "delivered", "failed"])
        attempts = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        delivered_at = serializers.DateTimeField(allow_null=True)
        tries = WebhookAttemptSerializer(many=True, source="tries.all")

    @extend_schema(
        summary="Recent webhook deliveries of a subscription, with every attempt",
        operation_id="subscription_deliveries",
        responses={
            200: inline_serializer("DeliveryList", {"deliveries": OutputSerializer(many=True)}),
            **errors(401, 404, 429),
        },
    )
    def get(self, request: Request, subscription_id: int) -> Response:
        subscription = _own_subscription(request, subscription_id)
        rows = selectors.delivery_list(subscription_id=subscription.id)
        return Response({"deliveries": self.OutputSerializer(rows, many=True).data})
