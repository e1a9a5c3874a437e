"""Timestamps on the wire: ISO-8601 in UTC, written as DRF writes them."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
