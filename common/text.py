"""Text a client sends has to survive the database and the response that answers it.

PostgreSQL text cannot hold NUL, and UTF-8 (the database's encoding and every response's)
cannot encode a lone surrogate, which JSON's "\\ud800" escape, a UTF-7 charset or a broken
client all produce. DRF's CharField rejects both in every serializer with these two
validators; `text_problem` applies the very same two to text checked without a serializer
(report intake validates 10,000-item batches in plain Python, and the report form).
"""

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.validators import ProhibitSurrogateCharactersValidator

_VALIDATORS = (ProhibitNullCharactersValidator(), ProhibitSurrogateCharactersValidator())
# The validators themselves loop in Python per character; they only run to word the message.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored or echoed, in DRF's words, or None if it can."""
    # ASCII without NUL is the common case: two C calls, a fifth of the regular expression's
    # cost (a 10,000-report batch checks 60,000 strings).
    if value.isascii() and "\x00" not in value:
        return None
    if _UNSTORABLE.search(value) is None:
        return None
    for validator in _VALIDATORS:
        try:
            validator(value)
        except DjangoValidationError as exc:
            return str(exc.messages[0])
        except DRFValidationError as exc:
            detail = exc.detail
            return str(detail[0] if isinstance(detail, list) else detail)
    return None  # unreachable: the pattern matches only what a validator rejects


def echo_safe(value: str) -> str:
    """`value` as it can be put in a response: lone surrogates spelled out as \\udXXX."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def field_name(key: object) -> str:
    """A client's key as an error names it: encodable, and never empty, which the error shape
    would read as an error of the whole body."""
    return echo_safe(str(key)) or '""'


def query_problems(params: Iterable[tuple[str, list[str]]]) -> dict[str, list[str]]:
    """The query parameters (a QueryDict's lists()) that cannot be stored or echoed, named.

    Django decodes a query string with the charset of the request's Content-Type, so
    "charset=utf-7" turns "%2B2AA-" into a lone surrogate, and "%00" is NUL in any charset.
    """
    errors: dict[str, list[str]] = {}
    for name, values in params:
        problems = [p for p in map(text_problem, (name, *values)) if p]
        if problems:
            errors[field_name(name)] = problems[:1]
    return errors
