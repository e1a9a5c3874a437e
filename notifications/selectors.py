"""Reads of stored events."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from notifications.models import Notification
from numeneon import rawsql

# Every message and every socket opening runs these; they are written out in SQL (see
# numeneon.rawsql), and use the (recipient, id) index.


def last_event_id(*, user_id: int) -> int:
    row = rawsql.fetch_one(_newest_event_sql(), [user_id])
    return row[0] if row else 0


def user_state(*, user_id: int) -> tuple[bool, int] | None:
    """`(is_active, newest event id or 0)` of a user, in one statement; None when there is no
    such user."""
    row = rawsql.fetch_one(_user_state_sql(), [user_id, user_id])
    if row is None:
        return None
    is_active, newest = row
    return bool(is_active), newest or 0


@rawsql.per_database
def _newest_event_sql() -> str:
    event_id = rawsql.column(Notification, "id")
    return "SELECT {} FROM {} WHERE {} = %s ORDER BY {} DESC LIMIT 1".format(
        event_id, rawsql.table(Notification), rawsql.column(Notification, "recipient"), event_id
    )


@rawsql.per_database
def _events_sql(bounded: bool, limited: bool) -> str:
    event_id = rawsql.column(Notification, "id")
    sql = "SELECT {{columns}} FROM {} WHERE {} = %s AND {} > %s".format(
        rawsql.table(Notification), rawsql.column(Notification, "recipient"), event_id
    )
    if bounded:
        sql += f" AND {event_id} <= %s"
    sql += f" ORDER BY {event_id}"
    if limited:
        sql += " LIMIT %s"
    return sql


@rawsql.per_database
def _user_state_sql() -> str:
    """The user's is_active and, in the same statement, _newest_event_sql's answer."""
    user = get_user_model()
    return "SELECT {}, ({}) FROM {} WHERE {} = %s".format(
        rawsql.column(user, "is_active"),
        _newest_event_sql(),
        rawsql.table(user),
        rawsql.column(user, "id"),
    )


def events_between(*, user_id: int, after: int, up_to: int | None = None, limit: int | None = None):
    """The user's events with `after` < id <= `up_to`, oldest first, at most `limit`: what a
    resuming socket replays (every socket of a reconnect storm runs it)."""
    params = [user_id, after]
    if up_to is not None:
        params.append(up_to)
    if limit is not None:
        params.append(limit)
    sql = _events_sql(up_to is not None, limit is not None)
    return rawsql.fetch_models(Notification, sql, params)


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
