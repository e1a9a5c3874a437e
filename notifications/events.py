"""One builder per event type: the `data` a client receives, and nothing else builds it."""

from __future__ import annotations

from accounts.models import User
from accounts.selectors import user_summary


def friend_request_data(*, request_id: int, from_user: User) -> dict:
    return {"request_id": request_id, "from_user": user_summary(from_user)}


def friend_accepted_data(*, request_id: int, accepter: User) -> dict:
    # Both fields name who accepted: `from_user` for the web app, `friend` for clarity;
    # `message` is the text the web app's notification list shows as it is.
    return {
        "request_id": request_id,
        "from_user": user_summary(accepter),
        "friend": user_summary(accepter),
        "message": f"{accepter.username} accepted your friend request.",
    }


def friend_request_declined_data(*, request_id: int, decliner: User) -> dict:
    return {"request_id": request_id, "by": user_summary(decliner)}


def friend_request_cancelled_data(*, request_id: int, from_user: User) -> dict:
    return {"request_id": request_id, "from_user": user_summary(from_user)}


def friend_removed_data(*, remover: User) -> dict:
    """To the other person: `user` is who ended the friendship."""
    return {"user": user_summary(remover)}


def new_message_data(*, message: dict) -> dict:
    """`message` is the REST shape of the message; its fields also sit flat beside the rest."""
    return {
        **message,
        "from_user": dict(message["sender"]),
        "message": {
            "id": message["id"],
            "content": message["content"],
            "created_at": message["created_at"],
        },
    }


def message_sent_data(*, message: dict) -> dict:
    """To the sender's own sockets: what the receiver's `new_message` carries, so that the
    sender's other tabs show the message as the receiver sees it."""
    return new_message_data(message=message)


def messages_read_data(*, reader: User, up_to_id: int, count: int) -> dict:
    return {"reader": user_summary(reader), "up_to_id": up_to_id, "count": count}
