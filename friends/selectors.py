"""Reads of friendships and friend requests."""

from __future__ import annotations

from django.db import connection
from django.db.models import F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import User
from friends.models import FriendRequest, Friendship, ordered_pair
from numeneon import rawsql


def are_friends(*, user_id: int, other_id: int) -> bool:
    low, high = ordered_pair(user_id, other_id)
    return Friendship.objects.filter(user_low_id=low, user_high_id=high).exists()


def message_parties(*, sender_id: int, receiver_id: int) -> tuple[User | None, User | None]:
    """The rows of both users, whatever their state, the receiver's with `is_friend`, locked
    until commit (notifications.services.lock_event_stream): one query for the hot path of
    every message. The sender's row stands in for the user query of authentication; the lock
    on the receiver's is the one notify() takes (two rows, always locked in id order).

    Written out in SQL (numeneon.rawsql): the users come back with id, username and is_active
    loaded; any other field is read from the database when first used, as with `.only()`."""
    low, high = ordered_pair(sender_id, receiver_id)
    rows = rawsql.fetch_all(_message_parties_sql(), [low, high, low, high])
    by_id = {}
    for user_id, username, is_active, is_friend in rows:
        # SQLite answers 1/0 for booleans: converted here, as the ORM would.
        values = (user_id, username, bool(is_active))
        user = User.from_db(connection.alias, _PARTY_FIELDS, values)
        user.is_friend = bool(is_friend)
        by_id[user.pk] = user
    return by_id.get(sender_id), by_id.get(receiver_id)


# In the model's field order: Model.from_db places the values it is given in that order.
_PARTY_FIELDS = ("id", "username", "is_active")


@rawsql.per_database
def _message_parties_sql() -> str:
    friendship_exists = "EXISTS (SELECT 1 FROM {} WHERE {} = %s AND {} = %s)".format(
        rawsql.table(Friendship),
        rawsql.column(Friendship, "user_low"),
        rawsql.column(Friendship, "user_high"),
    )
    user_id = rawsql.column(User, "id")
    return "SELECT {}, {} FROM {} WHERE {} IN (%s, %s) ORDER BY {}{}".format(
        ", ".join(rawsql.column(User, name) for name in _PARTY_FIELDS),
        friendship_exists,
        rawsql.table(User),
        user_id,
        user_id,
        # The lock of lock_event_stream; it takes only the users' rows (the one table in FROM).
        rawsql.for_update_clause(),
    )


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


SUGGESTIONS_DEFAULT_LIMIT = 20
SUGGESTIONS_MAX_LIMIT = 50


def _count(rows: QuerySet) -> Coalesce:
    """How many rows a correlated queryset has, as an expression (0 when none)."""
    counted = rows.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def friend_suggestions(*, user: User, limit: int) -> list[User]:
    """People `user` may know, at most `limit`, each with `mutual_friends_count` and its
    profile loaded: most mutual friends first, then the newest accounts. Never `user`, a
    friend, an inactive user, or anyone with a pending request with `user` either way.

    Two statements whatever the size of the network: friends of friends with their counts,
    then, when they are fewer than `limit`, the newest other accounts."""
    friend_ids = User.objects.filter(
        Q(pk__in=Friendship.objects.filter(user_low=user).values("user_high"))
        | Q(pk__in=Friendship.objects.filter(user_high=user).values("user_low"))
    ).values("pk")
    pending = FriendRequest.objects.filter(status=FriendRequest.Status.PENDING)
    eligible = (
        User.objects.filter(is_active=True)
        .exclude(pk=user.pk)
        .exclude(pk__in=friend_ids)
        .exclude(pk__in=pending.filter(from_user=user).values("to_user"))
        .exclude(pk__in=pending.filter(to_user=user).values("from_user"))
        .select_related("profile")
    )
    # A friendship row is one pair, lower id first: a friend of a friend is on either side.
    friends_of_friends = Q(
        pk__in=Friendship.objects.filter(user_low__in=friend_ids).values("user_high")
    ) | Q(pk__in=Friendship.objects.filter(user_high__in=friend_ids).values("user_low"))
    mutual = _count(
        Friendship.objects.filter(user_low=OuterRef("pk"), user_high__in=friend_ids)
    ) + _count(Friendship.objects.filter(user_high=OuterRef("pk"), user_low__in=friend_ids))
    suggested = list(
        eligible.filter(friends_of_friends)
        .annotate(mutual_friends_count=mutual)
        .order_by("-mutual_friends_count", "-date_joined", "-pk")[:limit]
    )
    if len(suggested) < limit:
        newest = (
            eligible.exclude(pk__in=[u.pk for u in suggested])
            .annotate(mutual_friends_count=Value(0))
            .order_by("-date_joined", "-pk")[: limit - len(suggested)]
        )
        suggested += list(newest)
    return suggested
