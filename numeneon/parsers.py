"""Request parsers (kept apart from errors.py: DRF imports these while it loads its views)."""

from __future__ import annotations

import json

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from numeneon.limits import MAX_JSON_DEPTH


class StrictJSONParser(JSONParser):
    """JSON bodies only, nested at most MAX_JSON_DEPTH deep, and only text that every
    database can store.

    Python's JSON decoder recurses: a few kilobytes of brackets raise RecursionError, which
    DRF's parser does not turn into a ParseError (a 500). A lone surrogate (`"\\ud800"`) is
    valid JSON but not valid UTF-8: PostgreSQL would refuse it with a 500. Both are a 400.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _too_deep() from None
        except exceptions.ParseError as error:
            # DRF's text is the decoder's ("JSON parse error - 'utf-8' codec can't decode byte
            # 0xff in position 0..."): where the body went wrong is enough.
            cause = error.__context__
            where = (
                f" (line {cause.lineno}, column {cause.colno})"
                if isinstance(cause, json.JSONDecodeError)
                else ""
            )
            raise exceptions.ParseError(f"The body is not valid JSON{where}.") from None
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise _too_deep()
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise exceptions.ParseError("JSON text must be valid UTF-8.") from None
        return data


def _too_deep() -> exceptions.ParseError:
    return exceptions.ParseError(f"JSON is nested more than {MAX_JSON_DEPTH} levels deep.")


def json_depth_exceeds(data: object, limit: int) -> bool:
    """Whether decoded JSON nests arrays and objects more than `limit` deep (without
    recursing, so that any depth the decoder produced can be measured)."""
    if not isinstance(data, dict | list):
        return False
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
