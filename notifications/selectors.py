"""Reads of stored events."""

from __future__ import annotations

from notifications.models import Notification


def last_event_id(*, user_id: int) -> int:
    newest = (
        Notification.objects.filter(recipient_id=user_id)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return newest or 0


def events_between(*, user_id: int, after: int, up_to: int | None = None, limit: int | None = None):
    events = Notification.objects.filter(recipient_id=user_id, id__gt=after)
    if up_to is not None:
        events = events.filter(id__lte=up_to)
    events = events.order_by("id")
    return list(events[:limit] if limit is not None else events)
