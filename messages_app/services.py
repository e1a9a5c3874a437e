"""Every write to messages: send, mark read."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from accounts.models import User
from accounts.selectors import user_get_active
from friends.selectors import are_friends
from messages_app import selectors
from messages_app.models import MAX_CONTENT_LENGTH, Message
from notifications import events
from notifications.models import EventType
from notifications.services import notify
from numeneon.errors import ApplicationError, Forbidden, NotFound


def _other_user(*, actor: User, user_id: int, self_code: str, self_message: str) -> User:
    if user_id == actor.pk:
        raise ApplicationError(self_code, self_message)
    other = user_get_active(user_id=user_id)
    if other is None:
        raise NotFound("user_not_found", "No such user.")
    return other


@transaction.atomic
def message_send(*, actor: User, receiver_id: int, content: str) -> Message:
    content = content.strip()
    if not content:
        raise ApplicationError("empty_content", "A message cannot be empty.")
    if len(content) > MAX_CONTENT_LENGTH:
        raise ApplicationError(
            "content_too_long", f"A message has at most {MAX_CONTENT_LENGTH} characters."
        )
    receiver = _other_user(
        actor=actor,
        user_id=receiver_id,
        self_code="cannot_message_self",
        self_message="You cannot send a message to yourself.",
    )
    if not are_friends(user_id=actor.pk, other_id=receiver.pk):
        raise Forbidden("not_friends", "You can only send messages to your friends.")
    message = Message.objects.create(sender=actor, receiver=receiver, content=content)
    notify(
        recipient_id=receiver.pk,
        event_type=EventType.NEW_MESSAGE,
        data=events.new_message_data(message=selectors.message_out(message)),
    )
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
