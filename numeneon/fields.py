"""Serializer fields that refuse what DRF would quietly coerce (`true` as 1, `12` as "12")."""

from __future__ import annotations

import re

from rest_framework import serializers

# Ids are 64-bit signed integers in every database we run on.
MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"^[0-9]{1,19}$")


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class IdField(serializers.IntegerField):
    """An integer id, positive unless `min_value` says otherwise, given as a JSON integer or a
    string of ASCII digits (int() would also take other scripts' digits, Arabic-Indic or
    full-width ones)."""

    default_error_messages = {"invalid": "Must be a positive integer."}

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, str) and _DIGITS.match(data.strip()):
            data = int(data.strip())
        if not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class LimitField(serializers.IntegerField):
    """A page size: a positive integer (a JSON integer or ASCII digits, however many), capped
    at `maximum` rather than refused above it; `default` when not given."""

    default_error_messages = {"invalid": "Must be a positive integer."}

    def __init__(self, *, maximum: int, default: int, **kwargs) -> None:
        self.maximum = maximum
        super().__init__(
            required=False,
            default=default,
            min_value=1,
            help_text=f"At most {maximum} (a larger one is capped); {default} when not given.",
            **kwargs,
        )

    def to_internal_value(self, data):
        if isinstance(data, str) and data.strip().isascii() and data.strip().isdigit():
            data = int(data.strip()[:100])  # past 100 digits it is capped all the same
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return min(super().to_internal_value(data), self.maximum)


def parse_id(value: str) -> int | None:
    """A path or query parameter as an id, or None when it is not one."""
    value = value.strip()
    if not _DIGITS.match(value):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


class IdConverter:
    """URL converter: ids that fit a 64-bit column, so no lookup can overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
