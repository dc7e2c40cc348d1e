"""The API's JSON parser: DRF's, bounded in depth.

Its own module because DRF imports the default parser while defining APIView, which
common.api itself imports.
"""

import io
from collections.abc import Mapping
from itertools import chain, compress, repeat
from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

# Every request body of the API is at most three levels deep ({"reports": [{...}]}).
MAX_JSON_DEPTH = 32
_CONTAINERS = (dict, list)


def nested_deeper_than(data: Any, limit: int) -> bool:
    """Whether parsed JSON nests more than `limit` arrays and objects.

    Level by level rather than recursively (a recursive walk would fail on the very input it
    bounds), with the per-value work in C: a 10,000-report batch takes about 10 ms.
    """
    level = [data]
    for _ in range(limit):
        dicts = [n for n in level if isinstance(n, dict)]
        values = list(chain.from_iterable(map(dict.values, dicts)))
        if len(dicts) < len(level):
            values.extend(chain.from_iterable(n for n in level if isinstance(n, list)))
        level = list(compress(values, map(isinstance, values, repeat(_CONTAINERS))))
        if not level:
            return False
    return True


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, bounded in depth. Python's decoder recurses once per level, so
    `[[[…` a few kilobytes deep raised RecursionError (a 500 from DRF's parser); and a document
    just under the interpreter's limit would leave any later recursive code one step from it."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        message = f"JSON nested too deeply: at most {MAX_JSON_DEPTH} levels."
        # Whole: the size middleware has capped it already.
        raw = stream.read()
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(message) from None
        # Counting brackets is C-fast and settles most bodies (a single report has one); an
        # overcount (a bracket inside a string, another charset) only costs the exact walk.
        brackets = raw.count(b"[") + raw.count(b"{")
        if brackets > MAX_JSON_DEPTH and nested_deeper_than(data, MAX_JSON_DEPTH):
            raise exceptions.ParseError(message)
        return data
