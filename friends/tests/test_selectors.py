"""friend_suggestions: who is suggested, in which order, and in how many statements;
message_parties, the written-out read of every message."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from accounts.services import profile_update
from friends.models import FriendRequest
from friends.selectors import friend_suggestions, message_parties
from tests.helpers import statements

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user):
    """Users joined a day apart in the order named: the last named is the newest account."""

    def make(*names: str) -> list[User]:
        start = timezone.now() - timedelta(days=len(names))
        users = []
        for index, name in enumerate(names):
            user = make_user(name)
            User.objects.filter(pk=user.pk).update(date_joined=start + timedelta(days=index))
            user.refresh_from_db()
            users.append(user)
        return users

    return make


def suggested(user: User, limit: int = 20) -> list[tuple[str, int]]:
    return [
        (u.username, u.mutual_friends_count) for u in friend_suggestions(user=user, limit=limit)
    ]


def test_people_with_more_mutual_friends_come_first(alice, people, befriend):
    f1, f2, f3, one, two, three = people("f1", "f2", "f3", "one", "two", "three")
    for friend in (f1, f2, f3):
        befriend(alice, friend)
    befriend(one, f1)
    befriend(two, f1), befriend(two, f2)
    befriend(three, f1), befriend(three, f2), befriend(three, f3)
    assert suggested(alice)[:3] == [("three", 3), ("two", 2), ("one", 1)]


def test_a_mutual_friend_counts_whichever_side_of_the_friendship_row_each_is_on(people, befriend):
    # Rows are stored lower id first: the candidate and the friend sit on either side.
    low, friend, high = people("low", "friend", "high")
    me = people("me")[0]
    befriend(me, friend)
    befriend(low, friend)
    befriend(friend, high)
    assert sorted(suggested(me)) == [("high", 1), ("low", 1)]
    assert sorted(suggested(low)) == [("high", 1), ("me", 1)]


def test_ties_and_people_without_mutual_friends_come_newest_account_first(alice, people, befriend):
    f, old, new, *_strangers = people("f", "old", "new", "older_stranger", "newer_stranger")
    befriend(alice, f)
    befriend(old, f)
    befriend(new, f)
    assert suggested(alice) == [
        ("new", 1),
        ("old", 1),
        ("newer_stranger", 0),
        ("older_stranger", 0),
    ]


def test_same_date_joined_is_broken_by_the_newer_id(alice, make_user):
    first, second = make_user("first"), make_user("second")
    User.objects.filter(pk__in=[first.pk, second.pk]).update(date_joined=timezone.now())
    assert suggested(alice) == [("second", 0), ("first", 0)]


def test_never_yourself_friends_inactive_users_or_pending_requests_either_way(
    alice, people, befriend
):
    friend, asked, asker, inactive, declined, ok = people(
        "friend", "asked", "asker", "inactive", "declined", "ok"
    )
    befriend(alice, friend)
    for other in (asked, asker, inactive, declined, ok):
        befriend(friend, other)  # every one of them a friend of a friend
    FriendRequest.objects.create(from_user=alice, to_user=asked)
    FriendRequest.objects.create(from_user=asker, to_user=alice)
    FriendRequest.objects.create(from_user=declined, to_user=alice, status="declined")
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    assert suggested(alice) == [("ok", 1), ("declined", 1)]


def test_nobody_is_suggested_twice_when_the_newest_accounts_fill_the_list(alice, people, befriend):
    friend, newest_with_mutual, _stranger = people("friend", "mutual", "stranger")
    befriend(alice, friend)
    befriend(friend, newest_with_mutual)
    User.objects.filter(pk=newest_with_mutual.pk).update(date_joined=timezone.now())
    assert suggested(alice) == [("mutual", 1), ("stranger", 0)]


def test_the_limit_is_honoured_in_both_parts(alice, people, befriend):
    f, a, b, *_ = people("f", "a", "b", "c", "d")
    befriend(alice, f)
    befriend(a, f), befriend(b, f)
    assert suggested(alice, limit=1) == [("b", 1)]
    assert suggested(alice, limit=3) == [("b", 1), ("a", 1), ("d", 0)]


def test_suggestions_come_with_their_profiles_loaded(alice, bob, django_assert_num_queries):
    profile_update(user=bob, avatar="https://img.example.com/b.png")
    users = friend_suggestions(user=alice, limit=20)
    with django_assert_num_queries(0):
        assert [(u.username, u.profile.avatar) for u in users] == [
            ("bob", "https://img.example.com/b.png")
        ]


def network(make_user, befriend, size: int) -> User:
    """`me` with `size` friends, each with `size` friends of their own (shared in part) and
    a few strangers: the number of statements must not depend on `size`."""
    me = make_user(f"me{size}")
    friends = [make_user(f"n{size}f{i}") for i in range(size)]
    others = [make_user(f"n{size}o{i}") for i in range(size)]
    for i, friend in enumerate(friends):
        befriend(me, friend)
        for other in others[: i + 1]:
            befriend(friend, other)
    for i in range(size):
        make_user(f"n{size}s{i}")
    FriendRequest.objects.create(from_user=others[0], to_user=me)
    return me


@pytest.mark.parametrize("limit", [2, 100])
def test_the_number_of_statements_does_not_grow_with_the_network(make_user, befriend, limit):
    small, large = network(make_user, befriend, 3), network(make_user, befriend, 12)
    small_result, small_sql = statements(lambda: friend_suggestions(user=small, limit=limit))
    large_result, large_sql = statements(lambda: friend_suggestions(user=large, limit=limit))
    # The ranking, then the chosen users with their profiles.
    assert len(small_sql) == len(large_sql) == 2
    assert [u.mutual_friends_count for u in large_result[:2]] == [11, 10]
    assert len(small_result) == min(limit, User.objects.count() - 1 - 3 - 1)


def test_message_parties_reads_both_users_and_the_friendship(alice, bob, charlie, befriend):
    befriend(alice, bob)
    (sender, receiver), sqls = statements(
        lambda: message_parties(sender_id=alice.pk, receiver_id=bob.pk)
    )
    assert len(sqls) == 1, sqls
    assert (sender.pk, sender.username, sender.is_active) == (alice.pk, "alice", True)
    assert (receiver.pk, receiver.username, receiver.is_friend) == (bob.pk, "bob", True)
    # Any other field comes from the database when used, not an empty default.
    assert receiver.email == "bob@example.com"
    _, stranger = message_parties(sender_id=alice.pk, receiver_id=charlie.pk)
    assert stranger.is_friend is False
    User.objects.filter(pk=charlie.pk).update(is_active=False)
    sender, nobody = message_parties(sender_id=charlie.pk, receiver_id=10**9)
    assert (sender.pk, sender.is_active) == (charlie.pk, False) and nobody is None


def test_message_parties_locks_the_users_rows_where_the_database_can(alice, bob):
    _, [sql] = statements(lambda: message_parties(sender_id=bob.pk, receiver_id=alice.pk))
    if connection.features.has_select_for_no_key_update:
        assert sql.endswith("FOR NO KEY UPDATE"), sql
    else:
        assert "FOR " not in sql, sql
