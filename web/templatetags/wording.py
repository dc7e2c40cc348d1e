from datetime import UTC, datetime, timedelta

from django import template
from django.utils import dateformat
from django.utils.translation import pgettext

from web import wording

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    return wording.duration_text(value)


@register.filter
def weekday_time(value: datetime | None) -> str:
    """ "Tue 3 Mar, 14:05" in the page's language (UTC)."""
    if value is None:
        return ""
    fmt = pgettext("weekday, day and time, Django date format", "D j M, H:i")
    return dateformat.format(value.astimezone(UTC), fmt)


@register.filter
def day_time(value: datetime | None) -> str:
    """ "3 Mar 14:05" in the page's language (UTC)."""
    if value is None:
        return ""
    return dateformat.format(
        value.astimezone(UTC), pgettext("day and time, Django date format", "j M H:i")
    )
