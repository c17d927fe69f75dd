"""The API's request parser: DRF's JSON parser with a nesting limit.

Python's JSON decoder recurses once per level, so a few kilobytes of ``[`` exhaust the interpreter's
stack (a ``RecursionError``, a 500). Bodies nested deeper than ``API_MAX_JSON_DEPTH`` levels, or
too deep for the decoder at all, are answered as a JSON 400 instead. No endpoint takes data
nested more than a few levels, so the limit costs nothing legitimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class BoundedJSONParser(JSONParser):
    """``application/json`` bodies, refused with a 400 when nested too deeply."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = int(getattr(settings, "API_MAX_JSON_DEPTH", 32))
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(_too_deep(limit)) from exc
        if nesting_depth(data, limit) > limit:
            raise ParseError(_too_deep(limit))
        return data


def nesting_depth(value: Any, limit: int) -> int:
    """How many arrays/objects deep ``value`` is (a scalar is 0), counted without recursion and
    stopping as soon as it passes ``limit``."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        if depth > limit:
            return depth
        deepest = max(deepest, depth)
        pending.extend((child, depth) for child in children)
    return deepest


def _too_deep(limit: int) -> str:
    return f"JSON parse error - the body is nested more than {limit} levels deep."
