from datetime import timedelta

from django import template

from web import wording

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    return wording.duration_text(value)
