"""JSON bodies with bounded nesting: deep nesting is a 400, never a RecursionError and a 500."""

from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def nesting_depth(value: Any) -> int:
    """Depth of nested arrays/objects, computed without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node)
    return deepest


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
        if nesting_depth(data) > settings.API_MAX_JSON_DEPTH:
            raise ParseError(f"JSON nesting deeper than {settings.API_MAX_JSON_DEPTH} levels is not accepted.")
        return data
