"""Every write to messages: send, mark read."""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Max

from accounts.models import User
from friends.selectors import message_parties
from messages_app import selectors
from messages_app.models import MAX_CONTENT_LENGTH, Message
from notifications import events
from notifications.models import EventType
from notifications.services import NewEvent, notify, notify_each
from numeneon.errors import ApplicationError, Forbidden, NotFound


class SenderUnavailable(ApplicationError):
    """The credential's user is gone or inactive (what JWTAuthentication would have said)."""

    status_code = 401


@transaction.atomic
def message_send(*, actor, receiver_id: int, content: str) -> Message:
    """`actor` is the sender: a User, or the TokenUser of a stateless credential check, whose
    row this reads (and checks) in the one query that also reads the receiver."""
    content = content.strip()
    if not content:
        raise ApplicationError("empty_content", "A message cannot be empty.")
    if len(content) > MAX_CONTENT_LENGTH:
        raise ApplicationError(
            "content_too_long", f"A message has at most {MAX_CONTENT_LENGTH} characters."
        )
    try:
        sender_id = int(actor.pk)
    except (TypeError, ValueError):
        raise SenderUnavailable("user_not_found", "User not found") from None
    if receiver_id == sender_id:
        raise ApplicationError("cannot_message_self", "You cannot send a message to yourself.")
    sender, receiver = message_parties(sender_id=sender_id, receiver_id=receiver_id)
    if sender is None:
        raise SenderUnavailable("user_not_found", "User not found")
    if not sender.is_active:
        raise SenderUnavailable("user_inactive", "User is inactive")
    if receiver is None or not receiver.is_active:
        raise NotFound("user_not_found", "No such user.")
    if not receiver.is_friend:
        raise Forbidden("not_friends", "You can only send messages to your friends.")
    message = _message_insert(Message(sender=sender, receiver=receiver, content=content))
    shown = selectors.message_out(message)
    notify_each(
        [
            NewEvent(receiver.pk, EventType.NEW_MESSAGE, events.new_message_data(message=shown)),
            NewEvent(sender.pk, EventType.MESSAGE_SENT, events.message_sent_data(message=shown)),
        ],
        # Both rows, by message_parties: in id order, so that two friends writing to each
        # other at the same instant wait for each other instead of deadlocking.
        stream_locked=True,
    )
    return message


# Written out: every message runs it, and Model.save() costs clearly more CPU than this
# literal (bench/statement_cost.py compares them).
_INSERT_MESSAGE_SQL = (
    'INSERT INTO "messages_app_message" '
    '("sender_id", "receiver_id", "content", "is_read", "created_at") '
    'VALUES (%s, %s, %s, %s, %s) RETURNING "id"'
)


def _message_insert(message: Message) -> Message:
    """Store a new `message` (its fields set, no pk yet): what save() does for it."""
    created_at = connection.ops.adapt_datetimefield_value(message.created_at)
    params = [message.sender_id, message.receiver_id, message.content, message.is_read, created_at]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_MESSAGE_SQL, params)
        message.pk = cursor.fetchone()[0]
    message._state.adding = False
    message._state.db = connection.alias
    return message


@transaction.atomic
def messages_mark_read(*, actor: User, other_id: int) -> int:
    """Mark every message from `other_id` to `actor` read; tell the sender if any were."""
    other = User.objects.filter(pk=other_id).first()  # a deactivated sender's too
    if other is None or other.pk == actor.pk:
        raise NotFound("user_not_found", "No such user.")
    unread = selectors.unread_from(user=actor, other_id=other.pk)
    up_to_id = unread.aggregate(up_to=Max("id"))["up_to"]
    if up_to_id is None:
        return 0
    count = unread.filter(id__lte=up_to_id).update(is_read=True)
    if count:
        notify(
            recipient_id=other.pk,
            event_type=EventType.MESSAGES_READ,
            data=events.messages_read_data(reader=actor, up_to_id=up_to_id, count=count),
        )
    return count
