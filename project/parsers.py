"""JSON bodies with bounded nesting and text that UTF-8 can hold: anything else is a 400, never a 500."""

import re
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# JSON may spell half of a UTF-16 surrogate pair on its own ("\ud800"); no UTF-8 text can hold it.
UNPAIRED_SURROGATE = re.compile("[\ud800-\udfff]")


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


def has_unpaired_surrogate(value: Any) -> bool:
    """Whether any string in the document, object keys included, holds an unpaired surrogate."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if UNPAIRED_SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
        if nesting_depth(data) > settings.API_MAX_JSON_DEPTH:
            raise ParseError(f"JSON nesting deeper than {settings.API_MAX_JSON_DEPTH} levels is not accepted.")
        # An error that quotes such a string (an unknown key, a bad choice) could not be encoded: a 500.
        if has_unpaired_surrogate(data):
            raise ParseError("JSON strings may not contain unpaired surrogates (\\ud800 to \\udfff).")
        return data
