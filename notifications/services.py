"""The one door to the channel layer: store an event, then push it after commit."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import DateTimeField, Q
from django.utils import timezone

from accounts.models import User
from accounts.services import user_lock_out
from notifications.models import EventType, Notification, PushSubscription, WebSocketTicket
from notifications.registry import socket_registry
from notifications.selectors import events_between, last_event_id, user_state
from numeneon.errors import NotFound
from numeneon.limits import (
    CLOSE_INACTIVE_USER,
    CLOSE_INVALID_CREDENTIAL,
    WS_TICKET_LIFETIME_SECONDS,
)
from numeneon.timefmt import iso

logger = logging.getLogger(__name__)

# The channel layer message type the consumer handles (`notification_event`).
LAYER_EVENT = "notification.event"


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
    the smaller one. SQLite already serializes every write, so nothing is run there. A caller
    that reads the recipient's row anyway takes the same lock in that query
    (friends.selectors.message_parties) and tells notify() so (`stream_locked`), one statement
    fewer.
    """
    if connection.features.has_select_for_update:
        user = get_user_model().objects.select_for_update(no_key=True).filter(pk=recipient_id)
        list(user.values_list("pk", flat=True))


# No savepoint inside the caller's transaction (two round trips saved per event): if storing
# the event fails, the whole operation that caused it must fail with it anyway.
@transaction.atomic(savepoint=False)
def notify(
    *, recipient_id: int, event_type: EventType | str, data: dict, stream_locked: bool = False
) -> Notification:
    """Store an event for a user; push it to their sockets once the transaction commits.

    `stream_locked`: the caller has locked the recipient's row in this transaction already
    (lock_event_stream)."""
    if not stream_locked:
        lock_event_stream(recipient_id)
    prev_id = last_event_id(user_id=recipient_id)
    event = _new_event(NewEvent(recipient_id, event_type, data), timezone.now())
    event.save()
    message = _layer_message(event, prev_id)
    web_push = _web_push_candidates([event], _subscribed([event]))
    transaction.on_commit(lambda: push_to_users([(recipient_id, message)], web_push))
    return event


class NewEvent(NamedTuple):
    recipient_id: int
    event_type: EventType | str
    data: dict


def notify_each(
    new_events: Sequence[NewEvent], *, stream_locked: bool = False
) -> list[Notification]:
    """notify() for events of different users caused by one operation (a message: the
    receiver's new_message and the sender's message_sent): stored in one statement on
    PostgreSQL (two on SQLite) instead of two per event, pushed in one call after commit.

    `stream_locked`: the caller has locked every recipient's row in this transaction already.
    Otherwise they are locked here in id order, the order every path that locks two users'
    rows takes (friends.selectors.message_parties), so that two such calls wait for each
    other instead of deadlocking."""
    recipients = [e.recipient_id for e in new_events]
    if len(set(recipients)) != len(recipients):
        # One statement reads every recipient's previous id before any insert.
        raise ValueError("notify_each stores at most one event per recipient")
    with transaction.atomic(savepoint=False):  # as notify()
        if not stream_locked:
            for recipient_id in sorted(recipients):
                lock_event_stream(recipient_id)
        now = timezone.now()
        events = [_new_event(e, now) for e in new_events]
        prev_ids, subscribed = _insert_events(events)
        pushes = [(e.recipient_id, _layer_message(e, prev_ids[e.recipient_id])) for e in events]
        web_push = _web_push_candidates(events, subscribed)
        transaction.on_commit(lambda: push_to_users(pushes, web_push))
    return events


# Events that tell a user of their own action: stored, replayed and listed like any other,
# but already read, since they hold nothing the user has not seen (no unread count grows
# because someone wrote a message).
STORED_READ = frozenset({EventType.MESSAGE_SENT})


def _new_event(new: NewEvent, now) -> Notification:
    event_type = EventType(new.event_type)
    read_at = now if event_type in STORED_READ else None
    return Notification(
        recipient_id=new.recipient_id,
        type=event_type,
        data=new.data,
        created_at=now,
        read_at=read_at,
    )


def _layer_message(event: Notification, prev_id: int) -> dict:
    return {
        "type": LAYER_EVENT,
        "id": event.id,
        # Lets a consumer see that it missed an event (a late or dropped push) and fetch it.
        "prev_id": prev_id,
        # Encoded once here, not once per socket.
        "text": encode_frame(event_frame(event)),
    }


# Written out: every message runs it, and it is one statement on PostgreSQL where the ORM
# takes two, the previous ids and a bulk_create (bench/statement_cost.py compares them). The
# outer SELECT does not see the rows its WITH inserts (one snapshot for the whole statement),
# so it reads each recipient's newest id before this event. Both use the (recipient, id) index.
# Whether the recipient has a Web Push subscription comes back with the ids, so that a message
# to someone who never turned push on costs no more with push on than off.
_INSERT_EVENTS = (
    'INSERT INTO "notifications_notification" '
    '("recipient_id", "type", "data", "created_at", "read_at") VALUES {values} '
    'RETURNING "id", "recipient_id", EXISTS (SELECT 1 FROM "notifications_pushsubscription" s '
    'WHERE s."user_id" = "notifications_notification"."recipient_id") AS "subscribed"'
)
_INSERT_EVENTS_WITH_PREVIOUS_IDS = (
    "WITH stored AS ({insert}) "
    'SELECT stored."id", stored."recipient_id", stored."subscribed", ('
    'SELECT n."id" FROM "notifications_notification" n '
    'WHERE n."recipient_id" = stored."recipient_id" ORDER BY n."id" DESC LIMIT 1'
    ") FROM stored"
)
_NEWEST_EVENT_IDS = (
    'SELECT "recipient_id", MAX("id") FROM "notifications_notification" '
    'WHERE "recipient_id" IN ({recipients}) GROUP BY "recipient_id"'
)


def _insert_events(events: list[Notification]) -> tuple[dict[int, int], set[int]]:
    """Insert `events` (one per recipient), set their ids; answer each recipient's previous
    newest event id (0 for none), and the recipients with a Web Push subscription."""
    data_field = Notification._meta.get_field("data")
    time_field = Notification._meta.get_field("created_at")
    params: list = []
    for event in events:
        params += [
            event.recipient_id,
            event.type,
            data_field.get_db_prep_save(event.data, connection),
            time_field.get_db_prep_save(event.created_at, connection),
            time_field.get_db_prep_save(event.read_at, connection),
        ]
    insert = _INSERT_EVENTS.format(values=", ".join(["(%s, %s, %s, %s, %s)"] * len(events)))
    recipients = [event.recipient_id for event in events]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_INSERT_EVENTS_WITH_PREVIOUS_IDS.format(insert=insert), params)
            rows = cursor.fetchall()
            prev_ids = {recipient_id: prev or 0 for _, recipient_id, _, prev in rows}
        else:
            newest = _NEWEST_EVENT_IDS.format(recipients=", ".join(["%s"] * len(recipients)))
            cursor.execute(newest, recipients)
            prev_ids = dict.fromkeys(recipients, 0) | dict(cursor.fetchall())
            cursor.execute(insert, params)
            rows = cursor.fetchall()
    ids = {recipient_id: event_id for event_id, recipient_id, *_ in rows}
    subscribed = {recipient_id for _, recipient_id, has_one, *_ in rows if has_one}
    for event in events:
        event.pk = ids[event.recipient_id]
        event._state.adding = False
        event._state.db = connection.alias
    return prev_ids, subscribed


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
    push_to_users([(user_id, message)])


def push_to_users(pushes: list[tuple[int, dict]], web_push: Sequence[tuple[int, int]] = ()) -> None:
    """Best effort: the events are stored already, so a failed push is logged, not raised.
    Several pushes go in one hop to the event loop (a thread hop costs more than a send).

    `web_push`: (recipient id, event id) of events for Web Push; those whose recipient has no
    open socket now, in the same hop (the socket registry lives on the server's loop), are
    queued for the push worker."""
    unseen = async_to_sync(_send_all)(pushes, web_push)
    if unseen:
        push_deliveries_queue(unseen)


async def _send_all(
    pushes: list[tuple[int, dict]], web_push: Sequence[tuple[int, int]] = ()
) -> list[tuple[int, int]]:
    layer = get_channel_layer()
    for user_id, message in pushes:
        try:
            await layer.group_send(user_group_name(user_id), message)
        except Exception:
            _push_health.failed(user_id)
        else:
            _push_health.succeeded()
    unseen = []
    for user_id, event_id in web_push:
        try:
            has_socket = bool(await socket_registry().channels(user_id))
        except Exception:
            # Unknown: a push the person may also see live beats no push at all.
            logger.exception("The socket registry did not answer for user %s", user_id)
            has_socket = False
        if not has_socket:
            unseen.append((user_id, event_id))
    return unseen


# Sent to people with no NUMENEON tab open (docs/CONTRACT.md, "Web Push").
WEB_PUSH_TYPES = frozenset(
    {EventType.FRIEND_REQUEST, EventType.FRIEND_ACCEPTED, EventType.NEW_MESSAGE}
)


def _subscribed(events: Sequence[Notification]) -> set[int]:
    """The recipients of `events` who have a Web Push subscription (notify_each learns it from
    its insert)."""
    if not settings.WEB_PUSH_ENABLED or not any(e.type in WEB_PUSH_TYPES for e in events):
        return set()
    recipients = {e.recipient_id for e in events}
    return set(
        PushSubscription.objects.filter(user_id__in=recipients).values_list("user_id", flat=True)
    )


def _web_push_candidates(
    events: Iterable[Notification], subscribed: set[int]
) -> list[tuple[int, int]]:
    """(recipient id, event id) of the events that may become a Web Push: of a pushed type, to
    someone with a subscription. Whether they have a socket open is asked after commit."""
    if not settings.WEB_PUSH_ENABLED:
        return []
    return [
        (e.recipient_id, e.id)
        for e in events
        if e.type in WEB_PUSH_TYPES and e.recipient_id in subscribed
    ]


# One statement per event, written out: it runs after the commit of every message to someone
# with no socket open. Nothing is inserted when the person has no subscription.
_QUEUE_DELIVERIES = (
    'INSERT INTO "notifications_pushdelivery" '
    '("event_id", "subscription_id", "due_at", "expires_at", "attempts") '
    'SELECT %s, s."id", %s, %s, 0 FROM "notifications_pushsubscription" s '
    'WHERE s."user_id" = %s'
)


def push_deliveries_queue(events: Iterable[tuple[int, int]]) -> None:
    """Owe a Web Push of each (recipient id, event id) to each of the recipient's
    subscriptions. Runs after the event committed: a failure here loses the push (logged),
    never the event, which the feed and the next socket still show."""
    now = timezone.now()
    due = DateTimeField().get_db_prep_save(now, connection)
    expires = DateTimeField().get_db_prep_save(
        now + timedelta(seconds=settings.PUSH_TTL_SECONDS), connection
    )
    try:
        with connection.cursor() as cursor:
            for user_id, event_id in events:
                cursor.execute(_QUEUE_DELIVERIES, [event_id, due, expires, user_id])
    except Exception:
        logger.exception("Queueing Web Push deliveries failed for %s", list(events))


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


def push_subscription_save(*, user, endpoint: str, p256dh: str, auth: str) -> PushSubscription:
    """Store a browser's push subscription for `user`. The same endpoint again, from anyone,
    replaces the earlier one: it is one browser profile, now subscribed by whoever is logged in
    there (keys are stored base64url, as the push worker reads them)."""
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={"user": user, "p256dh": p256dh, "auth": auth, "created_at": timezone.now()},
    )
    return subscription


def push_subscription_delete(*, user, endpoint: str) -> None:
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    if not deleted:
        raise NotFound("subscription_not_found", "You have no push subscription at that endpoint.")


def _ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def ws_ticket_issue(*, user: User, token_expires_at: datetime) -> tuple[str, int]:
    """A fresh single-use ticket for `user`; (ticket, seconds it lives)."""
    now = timezone.now()
    # Expired tickets are useless; sweep them as new ones are issued.
    WebSocketTicket.objects.filter(expires_at__lt=now - timedelta(minutes=1)).delete()
    ticket = secrets.token_urlsafe(32)
    WebSocketTicket.objects.create(
        key_hash=_ticket_hash(ticket),
        user=user,
        expires_at=now + timedelta(seconds=WS_TICKET_LIFETIME_SECONDS),
        token_expires_at=token_expires_at,
    )
    return ticket, WS_TICKET_LIFETIME_SECONDS


def ws_ticket_redeem(*, ticket: str) -> tuple[User, datetime] | None:
    """The ticket's user and token expiry, once: a used or expired ticket gives None."""
    if not ticket or len(ticket) > 200:
        return None
    key_hash = _ticket_hash(ticket)
    now = timezone.now()
    claimed = WebSocketTicket.objects.filter(
        key_hash=key_hash, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not claimed:
        return None
    redeemed = WebSocketTicket.objects.select_related("user").get(key_hash=key_hash)
    return redeemed.user, redeemed.token_expires_at


@transaction.atomic
def user_deactivate(*, user: User) -> None:
    """Lock a user out (no login, no refresh: every session ends) and, once that commits, close
    every socket they have open, on every server process, with 4003. It lives here, not in
    accounts, because accounts knows nothing of sockets."""
    user_lock_out(user=user)
    user_sockets_close(user_id=user.pk, code=CLOSE_INACTIVE_USER)
