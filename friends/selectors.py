"""Reads of friendships and friend requests."""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet

from accounts.models import User
from friends.models import FriendRequest, Friendship, ordered_pair


def are_friends(*, user_id: int, other_id: int) -> bool:
    low, high = ordered_pair(user_id, other_id)
    return Friendship.objects.filter(user_low_id=low, user_high_id=high).exists()


# Written out: every message runs it, and its QuerySet (annotate, only, select_for_update)
# costs clearly more CPU to build than this literal (bench/statement_cost.py compares them).
_MESSAGE_PARTIES_SQL = (
    'SELECT "id", "username", "is_active", EXISTS ('
    'SELECT 1 FROM "friends_friendship" WHERE "user_low_id" = %s AND "user_high_id" = %s'
    ') AS "is_friend" FROM "accounts_user" WHERE "id" IN (%s, %s) ORDER BY "id"'
)


def message_parties(*, sender_id: int, receiver_id: int) -> tuple[User | None, User | None]:
    """The rows of both users, whatever their state, the receiver's with `is_friend`, locked
    until commit (notifications.services.lock_event_stream): one query for the hot path of
    every message. The sender's row stands in for the user query of authentication; the lock
    on the receiver's is the one notify() takes (two rows, always locked in id order).

    The users come back with id, username and is_active loaded; any other field is read from
    the database when first used, as with `.only()`."""
    low, high = ordered_pair(sender_id, receiver_id)
    sql = _MESSAGE_PARTIES_SQL
    if connection.features.has_select_for_no_key_update:
        # Only the users' rows (the one table in FROM); SQLite serializes writes anyway.
        sql += " FOR NO KEY UPDATE"
    # A cursor and Model.from_db rather than User.objects.raw(), whose own per-call work
    # costs measurably more here (bench/statement_cost.py).
    with connection.cursor() as cursor:
        cursor.execute(sql, [low, high, low, high])
        rows = cursor.fetchall()
    by_id = {}
    for user_id, username, is_active, is_friend in rows:
        # SQLite answers 1/0 for booleans.
        user = User.from_db(connection.alias, _PARTY_FIELDS, (user_id, username, bool(is_active)))
        user.is_friend = bool(is_friend)
        by_id[user.pk] = user
    return by_id.get(sender_id), by_id.get(receiver_id)


# The statement's columns, in the model's field order (Model.from_db's).
_PARTY_FIELDS = ("id", "username", "is_active")


def friend_list(*, user: User) -> QuerySet[User]:
    """`user`'s friends who are active: a deactivated person disappears from the list (the
    friendship row stays, and comes back with them)."""
    as_low = Friendship.objects.filter(user_low=user).values("user_high")
    as_high = Friendship.objects.filter(user_high=user).values("user_low")
    return User.objects.filter(Q(pk__in=as_low) | Q(pk__in=as_high), is_active=True).order_by(
        "username"
    )


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


# Written out: the database counts and ranks friends of friends in one statement, where
# QuerySets took five and carried every candidate's id and join date to Python to rank them
# (the reference is in bench/suggestions.py, `--compare-orm`).
_SUGGESTIONS_SQL = """
WITH friend AS (
    SELECT user_high_id AS id FROM friends_friendship WHERE user_low_id = %(user)s
    UNION ALL
    SELECT user_low_id FROM friends_friendship WHERE user_high_id = %(user)s
),
excluded AS (
    SELECT id FROM friend
    UNION ALL SELECT %(user)s
    UNION ALL
    SELECT to_user_id FROM friends_friendrequest
    WHERE from_user_id = %(user)s AND status = 'pending'
    UNION ALL
    SELECT from_user_id FROM friends_friendrequest
    WHERE to_user_id = %(user)s AND status = 'pending'
),
mutual AS (
    SELECT candidate, COUNT(*) AS n FROM (
        SELECT f.user_high_id AS candidate
        FROM friends_friendship f JOIN friend ON f.user_low_id = friend.id
        UNION ALL
        SELECT f.user_low_id
        FROM friends_friendship f JOIN friend ON f.user_high_id = friend.id
    ) AS reached
    WHERE candidate NOT IN (SELECT id FROM excluded)
    GROUP BY candidate
)
SELECT id, n FROM (
    SELECT id, n, date_joined FROM (
        SELECT u.id, m.n, u.date_joined
        FROM mutual m JOIN accounts_user u ON u.id = m.candidate
        WHERE u.is_active
        ORDER BY m.n DESC, u.date_joined DESC, u.id DESC
        LIMIT %(limit)s
    ) AS known
    UNION ALL
    SELECT id, n, date_joined FROM (
        SELECT u.id, 0 AS n, u.date_joined
        FROM accounts_user u
        WHERE u.is_active
          AND u.id NOT IN (SELECT id FROM excluded)
          AND u.id NOT IN (SELECT candidate FROM mutual)
        ORDER BY u.date_joined DESC, u.id DESC
        LIMIT %(limit)s
    ) AS newest
) AS suggested
ORDER BY n DESC, date_joined DESC, id DESC
LIMIT %(limit)s
"""


def friend_suggestions(*, user: User, limit: int) -> list[User]:
    """People `user` may know, at most `limit`, each with `mutual_friends_count` and its
    profile loaded: most mutual friends first, then the newest accounts. Never `user`, a
    friend, an inactive user, or anyone with a pending request with `user` either way.

    Two statements whatever the size of the network: the ranking, then the users chosen with
    their profiles."""
    with connection.cursor() as cursor:
        cursor.execute(_SUGGESTIONS_SQL, {"user": user.pk, "limit": limit})
        ranked = cursor.fetchall()
    if not ranked:
        return []
    users = User.objects.filter(pk__in=[pk for pk, _ in ranked]).select_related("profile")
    by_id = {one.pk: one for one in users}
    suggested = []
    for pk, mutual_friends_count in ranked:
        # A user deleted between the two statements is left out.
        if pk in by_id:
            by_id[pk].mutual_friends_count = mutual_friends_count
            suggested.append(by_id[pk])
    return suggested
