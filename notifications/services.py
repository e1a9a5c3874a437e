"""The one door to the channel layer: store an event, then push it after commit."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from notifications.auth import CLOSE_INACTIVE_USER, CLOSE_INVALID_CREDENTIAL
from notifications.models import EventType, Notification
from notifications.selectors import events_between, last_event_id, user_state
from numeneon import rawsql
from numeneon.timefmt import iso

logger = logging.getLogger(__name__)

# The channel layer message type the consumer handles (`notification_event`).
LAYER_EVENT = "notification.event"


# Events that tell a user of their own action: stored, replayed and listed like any other,
# but already read, since they hold nothing the user has not seen (no unread count grows
# because someone wrote a message).
STORED_READ = frozenset({EventType.MESSAGE_SENT})


def user_group_name(user_id: int) -> str:
    return f"user.{user_id}"


def event_frame(event: Notification) -> dict:
    """An event as the socket and the REST feed show it."""
    return {
        "type": event.type,
        "id": event.id,
        "created_at": iso(event.created_at),
        "data": event.data,
    }


def encode_frame(frame: dict) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def lock_event_stream(recipient_id: int) -> None:
    """Lock the recipient's user row until commit, which serializes their events.

    Ids come from one global sequence; without this lock two transactions could commit a
    user's events out of id order, and a client resuming from the larger id would never see
    the smaller one. SQLite already serializes every write (rawsql.for_update_clause is ""
    there). A caller that reads the recipient's row anyway takes the same lock in that query
    (friends.selectors.message_parties) and tells notify() so (`stream_locked`), one statement
    fewer.
    """
    if connection.features.has_select_for_update:
        rawsql.fetch_one(_lock_sql(), [recipient_id])


@rawsql.per_database
def _lock_sql() -> str:
    user = get_user_model()
    user_id = rawsql.column(user, "id")
    lock = rawsql.for_update_clause()
    return f"SELECT {user_id} FROM {rawsql.table(user)} WHERE {user_id} = %s{lock}"


# No savepoint inside the caller's transaction (two round trips saved per event): if storing
# the event fails, the whole operation that caused it must fail with it anyway.
@transaction.atomic(savepoint=False)
def notify(
    *, recipient_id: int, event_type: EventType | str, data: dict, stream_locked: bool = False
) -> Notification:
    """Store an event for a user; push it to their sockets once the transaction commits.

    `stream_locked`: the caller has locked the recipient's row in this transaction already
    (lock_event_stream)."""
    event_type = EventType(event_type)
    if not stream_locked:
        lock_event_stream(recipient_id)
    prev_id = last_event_id(user_id=recipient_id)
    event = Notification(recipient_id=recipient_id, type=event_type, data=data)
    if event_type in STORED_READ:
        event.read_at = event.created_at
    rawsql.insert(event)
    message = {
        "type": LAYER_EVENT,
        "id": event.id,
        # Lets a consumer see that it missed an event (a late or dropped push) and fetch it.
        "prev_id": prev_id,
        # Encoded once here, not once per socket.
        "text": encode_frame(event_frame(event)),
    }
    transaction.on_commit(lambda: push_to_user(recipient_id, message))
    return event


class _PushHealth:
    """Logs the first failed push and the recovery, not every failure in between."""

    def __init__(self) -> None:
        self._failing = False
        self._lock = threading.Lock()

    def failed(self, user_id: int) -> None:
        with self._lock:
            first, self._failing = not self._failing, True
        if first:
            logger.exception(
                "Push to user %s failed; events stay stored and are replayed on reconnect. "
                "Further failures are not logged until a push succeeds.",
                user_id,
            )

    def succeeded(self) -> None:
        with self._lock:
            recovered, self._failing = self._failing, False
        if recovered:
            logger.warning("Pushes to the channel layer succeed again.")


_push_health = _PushHealth()


def push_to_user(user_id: int, message: dict) -> None:
    """Best effort: the event is stored already, so a failed push is logged, not raised."""
    try:
        async_to_sync(get_channel_layer().group_send)(user_group_name(user_id), message)
    except Exception:
        _push_health.failed(user_id)
    else:
        _push_health.succeeded()


def notifications_mark_read(
    *, actor_id: int, ids: Iterable[int] | None = None, up_to: int | None = None
) -> int:
    unread = Notification.objects.filter(recipient_id=actor_id, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(id__in=list(ids))
    elif up_to is not None:
        unread = unread.filter(id__lte=up_to)
    else:
        return 0
    return unread.update(read_at=timezone.now())


def notifications_prune(*, read_before, unread_before, batch_size: int = 1000) -> int:
    """Delete read events created before `read_before` and unread ones before `unread_before`.

    Deletes in small batches, each its own short transaction, so that the server keeps
    storing and replaying events while it runs.
    """
    expired = Notification.objects.filter(
        Q(read_at__isnull=False, created_at__lt=read_before)
        | Q(read_at__isnull=True, created_at__lt=unread_before)
    )
    deleted = 0
    while True:
        batch = list(expired.order_by("id").values_list("id", flat=True)[:batch_size])
        if not batch:
            return deleted
        deleted += Notification.objects.filter(id__in=batch).delete()[0]


@dataclass(frozen=True)
class SocketOpening:
    refused: int | None  # a close code: the user is gone (4001) or inactive (4003)
    newest: int = 0  # the user's newest stored event id
    missed: list[Notification] = field(default_factory=list)  # events after `replay_after`


def socket_open(*, user_id: int, replay_after: int | None, replay_limit: int) -> SocketOpening:
    """What the database has to say when a socket opens: whether the credential's user may
    connect and their newest event id (one statement), and the events to replay (one more,
    only when some were missed). (Which sockets the user has open is in
    notifications.registry, not in the database.)"""
    state = user_state(user_id=user_id)
    if state is None:
        return SocketOpening(refused=CLOSE_INVALID_CREDENTIAL)
    is_active, newest = state
    if not is_active:
        return SocketOpening(refused=CLOSE_INACTIVE_USER)
    missed = []
    if replay_after is not None and replay_after < newest:
        # Bounded by `newest`: what commits after the first statement reaches the socket by
        # push (the consumer joined the user's group before this call).
        missed = events_between(
            user_id=user_id, after=replay_after, up_to=newest, limit=replay_limit
        )
    return SocketOpening(refused=None, newest=newest, missed=missed)


def user_sockets_close(*, user_id: int, code: int) -> None:
    """Close every socket of a user, in every server process, once the transaction commits."""
    message = {"type": "session.close", "code": code}
    transaction.on_commit(lambda: push_to_user(user_id, message))
