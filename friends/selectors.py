"""Reads of friendships and friend requests."""

from __future__ import annotations

from django.db.models import Exists, Q, QuerySet

from accounts.models import User
from friends.models import FriendRequest, Friendship, ordered_pair
from notifications.services import lock_event_streams


def are_friends(*, user_id: int, other_id: int) -> bool:
    low, high = ordered_pair(user_id, other_id)
    return Friendship.objects.filter(user_low_id=low, user_high_id=high).exists()


def message_parties(*, sender_id: int, receiver_id: int) -> tuple[User | None, User | None]:
    """The rows of both users, whatever their state, the receiver's with `is_friend`, locked
    until commit (notifications.services.lock_event_streams): one query for the hot path of
    every message. The sender's row stands in for the user query of authentication; the lock
    on the receiver's is the one notify() takes (two rows, always locked in id order)."""
    low, high = ordered_pair(sender_id, receiver_id)
    friendship = Friendship.objects.filter(user_low_id=low, user_high_id=high)
    users = lock_event_streams(
        User.objects.filter(pk__in=(sender_id, receiver_id))
        .annotate(is_friend=Exists(friendship))
        .order_by("pk")
    )
    by_id = {user.pk: user for user in users}
    return by_id.get(sender_id), by_id.get(receiver_id)


def friend_list(*, user: User) -> QuerySet[User]:
    as_low = Friendship.objects.filter(user_low=user).values("user_high")
    as_high = Friendship.objects.filter(user_high=user).values("user_low")
    return User.objects.filter(Q(pk__in=as_low) | Q(pk__in=as_high)).order_by("username")


def pending_request(*, from_id: int, to_id: int, for_update: bool = False) -> FriendRequest | None:
    requests = FriendRequest.objects.all()
    if for_update:
        requests = requests.select_for_update()
    return requests.filter(
        from_user_id=from_id, to_user_id=to_id, status=FriendRequest.Status.PENDING
    ).first()


def incoming_requests(*, user: User) -> QuerySet[FriendRequest]:
    return (
        FriendRequest.objects.filter(to_user=user, status=FriendRequest.Status.PENDING)
        .select_related("from_user")
        .order_by("-created_at", "-id")
    )


def outgoing_requests(*, user: User) -> QuerySet[FriendRequest]:
    return (
        FriendRequest.objects.filter(from_user=user, status=FriendRequest.Status.PENDING)
        .select_related("to_user")
        .order_by("-created_at", "-id")
    )
