"""Reads of messages: threads, conversations, unread counts."""

from __future__ import annotations

from django.db.models import Case, Count, F, Max, Q, QuerySet, When

from accounts.models import User
from accounts.selectors import user_brief, user_summary
from messages_app.models import Message
from numeneon.timefmt import iso

THREAD_DEFAULT_LIMIT = 50
THREAD_MAX_LIMIT = 100


def message_out(message: Message) -> dict:
    """The REST shape of a message; sender and receiver must be loaded."""
    return {
        "id": message.pk,
        "sender": user_brief(message.sender),
        "receiver": user_brief(message.receiver),
        "content": message.content,
        "is_read": message.is_read,
        "created_at": iso(message.created_at),
    }


def _between(user_id: int, other_id: int) -> Q:
    return Q(sender_id=user_id, receiver_id=other_id) | Q(sender_id=other_id, receiver_id=user_id)


def thread(*, user: User, other_id: int, before: int | None, limit: int) -> list[Message]:
    """The newest `limit` messages of a thread older than `before`, oldest first."""
    messages = Message.objects.filter(_between(user.pk, other_id))
    if before is not None:
        messages = messages.filter(id__lt=before)
    newest = messages.select_related("sender", "receiver").order_by("-id")[:limit]
    return list(reversed(newest))


def conversations(*, user: User) -> list[dict]:
    """Every conversation of `user`, newest first, in two queries whatever their number."""
    per_partner = (
        Message.objects.filter(Q(sender=user) | Q(receiver=user))
        .annotate(partner=Case(When(sender=user, then=F("receiver_id")), default=F("sender_id")))
        .values("partner")
        .annotate(
            last_id=Max("id"),
            unread=Count("id", filter=Q(receiver=user, is_read=False)),
        )
        .order_by("-last_id")
    )
    rows = list(per_partner)
    last_messages = Message.objects.select_related("sender", "receiver").in_bulk(
        [row["last_id"] for row in rows]
    )
    result = []
    for row in rows:
        message = last_messages[row["last_id"]]
        partner = message.receiver if message.sender_id == user.pk else message.sender
        result.append(
            {
                "user": user_summary(partner),
                "last_message": message_out(message),
                "unread_count": row["unread"],
            }
        )
    return result


def unread_count(*, user: User) -> int:
    return Message.objects.filter(receiver=user, is_read=False).count()


def unread_from(*, user: User, other_id: int) -> QuerySet[Message]:
    return Message.objects.filter(receiver=user, sender_id=other_id, is_read=False)
