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


def feed(*, user_id: int, after: int | None, limit: int) -> list[Notification]:
    """Events with an id above `after`, oldest first; without `after`, the newest `limit`.

    Ids of one user commit in order (see services.notify), so paging by `after` never skips
    an event that commits later.
    """
    if after is not None:
        return events_between(user_id=user_id, after=after, limit=limit)
    newest = Notification.objects.filter(recipient_id=user_id).order_by("-id")[:limit]
    return list(reversed(newest))


def unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()
