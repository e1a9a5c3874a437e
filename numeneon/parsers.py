"""Request parsers (kept apart from errors.py: DRF imports these while it loads its views)."""

from __future__ import annotations

import json

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSON bodies only, and only text that every database can store.

    A lone surrogate (`"\\ud800"`) is valid JSON but not valid UTF-8: PostgreSQL would
    refuse it with a 500, so it is refused here with a 400.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise exceptions.ParseError("JSON text must be valid UTF-8.") from None
        return data
