"""Reads of stored events."""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection

from notifications.models import Notification
from numeneon import rawsql

# Every message and every socket opening runs these; they are written out in SQL (see
# numeneon.rawsql), and use the (recipient, id) index.


def last_event_id(*, user_id: int) -> int:
    row = rawsql.fetch_one(_newest_event_sql(connection.vendor), [user_id])
    return row[0] if row else 0


def user_state(*, user_id: int) -> tuple[bool, int] | None:
    """`(is_active, newest event id or 0)` of a user, in one statement; None when there is no
    such user."""
    row = rawsql.fetch_one(_user_state_sql(connection.vendor), [user_id])
    if row is None:
        return None
    is_active, newest = row
    return bool(is_active), newest or 0


@cache
def _newest_event_sql(vendor: str) -> str:
    del vendor  # part of the cache key
    event_id = rawsql.column(Notification, "id")
    return "SELECT {} FROM {} WHERE {} = %s ORDER BY {} DESC LIMIT 1".format(
        event_id, rawsql.table(Notification), rawsql.column(Notification, "recipient"), event_id
    )


@cache
def _events_sql(vendor: str, bounded: bool, limited: bool) -> str:
    del vendor  # part of the cache key
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


@cache
def _user_state_sql(vendor: str) -> str:
    del vendor  # part of the cache key
    user = get_user_model()
    user_id = rawsql.column(user, "id")
    event_id = rawsql.column(Notification, "id")
    newest = "SELECT e.{} FROM {} e WHERE e.{} = u.{} ORDER BY e.{} DESC LIMIT 1".format(
        event_id,
        rawsql.table(Notification),
        rawsql.column(Notification, "recipient"),
        user_id,
        event_id,
    )
    return "SELECT u.{}, ({}) FROM {} u WHERE u.{} = %s".format(
        rawsql.column(user, "is_active"), newest, rawsql.table(user), user_id
    )


def events_between(*, user_id: int, after: int, up_to: int | None = None, limit: int | None = None):
    """The user's events with `after` < id <= `up_to`, oldest first, at most `limit`: what a
    resuming socket replays (every socket of a reconnect storm runs it)."""
    params = [user_id, after]
    if up_to is not None:
        params.append(up_to)
    if limit is not None:
        params.append(limit)
    sql = _events_sql(connection.vendor, up_to is not None, limit is not None)
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
