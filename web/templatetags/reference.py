import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def path_breaks(path: str) -> SafeString:
    """An API path that may wrap after each slash on a phone (`/api/v1/services/{slug}/…`),
    instead of at any letter or not at all."""
    return mark_safe(escape(path).replace("/", "/<wbr>"))  # noqa: S308 - escaped above


@register.filter
def doc_text(text: str) -> SafeString:
    """The schema's descriptions as they are written (a little Markdown from the serializers and
    drf-spectacular's enum lists): `code` as code, "* " lines as bullets, line breaks kept."""
    html = re.sub(r"`([^`\n]+)`", r"<code>\1</code>", escape(text))
    html = re.sub(r"(?m)^\* ", "• ", html)
    return mark_safe(html.replace("\n", "<br>"))  # noqa: S308 - escaped above
