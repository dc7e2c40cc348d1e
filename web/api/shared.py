"""Inputs and serializers that more than one group of the read API uses."""

from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from analytics.selectors.windows import WINDOWS
from common.regions import countries
from outages.models import Level


def validate_country(value: str) -> str:
    code = value.upper()
    if code and code not in countries():
        raise serializers.ValidationError(f"Unknown country code '{value}'.")
    return code


# Timestamps outside this range are mistakes (and would overflow date arithmetic).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class TimestampField(serializers.DateTimeField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "ISO 8601; UTC unless an offset is given")
        super().__init__(default_timezone=UTC, **kwargs)

    def to_internal_value(self, value: Any) -> datetime:
        parsed = super().to_internal_value(value)
        if not EARLIEST <= parsed < LATEST:
            raise serializers.ValidationError("Must be between 2000 and 2100.")
        return parsed


def delayed_since_field() -> serializers.DateTimeField:
    return serializers.DateTimeField(
        allow_null=True,
        help_text=(
            "when the last detection pass ran, if longer ago than DETECTION_MAX_AGE (2 minutes "
            "by default): the level and its counts are not current; null while fresh"
        ),
    )


def with_delayed_since(rows: Iterable[Any], delayed_since: datetime | None) -> list[dict[str, Any]]:
    """Status rows (dataclasses) as dicts carrying the response's one delayed_since."""
    return [{**asdict(row), "delayed_since": delayed_since} for row in rows]


def window_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=list(WINDOWS), default="1h")


@extend_schema_serializer(component_name="Incident")
class IncidentSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    service = serializers.CharField(source="service_slug")
    service_name = serializers.CharField()
    country = serializers.CharField(help_text='"" for a worldwide incident')
    level = serializers.ChoiceField(choices=Level.choices)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    peak_at = serializers.DateTimeField()
    peak_reports = serializers.FloatField()
    peak_expected = serializers.FloatField()
    regions = serializers.ListField(child=serializers.CharField())
    problems = serializers.ListField(child=serializers.CharField())
    event = serializers.IntegerField(
        allow_null=True, help_text="the wider problem it is part of (/api/v1/events/{id})"
    )


class BucketSerializer(serializers.Serializer):
    t = serializers.DateTimeField(help_text="start of the bucket")
    reports = serializers.IntegerField()
    expected = serializers.FloatField(
        allow_null=True, help_text="reports expected in the bucket; null without a baseline"
    )
    low = serializers.FloatField(allow_null=True, help_text="expected − 2√expected, at least 0")
    high = serializers.FloatField(allow_null=True, help_text="expected + 2√expected")
    threshold = serializers.FloatField(
        allow_null=True,
        help_text="the outage line: max(2 × expected, expected + 5), the detector's floor",
    )
    level = serializers.ChoiceField(
        choices=Level.choices,
        help_text="highest level an incident of this scope reached while open in the bucket",
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # A trend holds up to 1,440 buckets, and DRF's per-field calls cost more than the
        # query behind them; this gives what the declared fields (the schema) say.
        t = instance.t.astimezone(UTC).isoformat()
        return {
            "t": t[:-6] + "Z" if t.endswith("+00:00") else t,
            "reports": instance.reports,
            "expected": instance.expected,
            "low": instance.low,
            "high": instance.high,
            "threshold": instance.threshold,
            "level": str(instance.level),
        }
