"""Reads of stored events."""

from __future__ import annotations

from django.db import connection

from notifications.models import Notification


def last_event_id(*, user_id: int) -> int:
    newest = Notification.objects.filter(recipient_id=user_id).order_by("-id")
    return newest.values_list("id", flat=True).first() or 0


# Written out: every socket opening runs it, and its QuerySet (a Subquery annotation) costs
# clearly more CPU to build than this literal (bench/statement_cost.py compares them).
_USER_STATE_SQL = (
    'SELECT "is_active", ('
    'SELECT "id" FROM "notifications_notification" WHERE "recipient_id" = %s '
    'ORDER BY "id" DESC LIMIT 1'
    ') FROM "accounts_user" WHERE "id" = %s'
)


def user_state(*, user_id: int) -> tuple[bool, int] | None:
    """`(is_active, newest event id or 0)` of a user, in one statement; None when there is no
    such user."""
    with connection.cursor() as cursor:
        cursor.execute(_USER_STATE_SQL, [user_id, user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    is_active, newest = row
    return bool(is_active), newest or 0  # SQLite answers 1/0


# Written out: every resuming socket runs it, all at once in a reconnect storm, and its
# QuerySet costs clearly more CPU to build than this literal (bench/statement_cost.py).
# Both statements here read the (recipient, id) index.
_EVENTS_BETWEEN_SQL = (
    'SELECT "id", "recipient_id", "type", "data", "created_at", "read_at" '
    'FROM "notifications_notification" '
    'WHERE "recipient_id" = %s AND "id" > %s AND "id" <= %s ORDER BY "id" LIMIT %s'
)


def events_between(
    *, user_id: int, after: int, up_to: int, limit: int | None = None
) -> list[Notification]:
    """The user's events with `after` < id <= `up_to`, oldest first, at most `limit`: what a
    resuming socket replays (every socket of a reconnect storm runs it)."""
    if limit is None:
        limit = max(up_to - after, 0)  # ids are unique: no more events than that fit between
    return list(Notification.objects.raw(_EVENTS_BETWEEN_SQL, [user_id, after, up_to, limit]))


def feed(*, user_id: int, after: int | None, limit: int) -> list[Notification]:
    """Events with an id above `after`, oldest first; without `after`, the newest `limit`.

    Ids of one user commit in order (see services.notify), so paging by `after` never skips
    an event that commits later.
    """
    events = Notification.objects.filter(recipient_id=user_id)
    if after is not None:
        return list(events.filter(id__gt=after).order_by("id")[:limit])
    return list(reversed(events.order_by("-id")[:limit]))


def unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()
