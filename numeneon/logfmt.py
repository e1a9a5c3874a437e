"""Log formats: plain text by default, one JSON object a line with LOG_FORMAT=json. Either
way one record is one line: what a request put in a logged value cannot start a line."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# Fields the project's own log calls pass in `extra=`; they become JSON keys.
FIELDS = ("event", "method", "path", "status", "user_id", "duration_ms", "code", "client")


# C0 and C1 controls, DEL, and the two Unicode line separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """`text` with every control character written as its escape (a newline as `\\n`)."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


class PlainFormatter(logging.Formatter):
    """The message escaped (a path holding `%0A` cannot forge a line); a traceback that
    follows it is the formatter's own and keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """json.dumps escapes every control character already."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({f: getattr(record, f) for f in FIELDS if hasattr(record, f)})
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
