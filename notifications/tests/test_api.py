"""The stored-event feed over REST: /api/notifications/."""

from __future__ import annotations

import pytest

from notifications.models import EventType, Notification
from notifications.services import event_frame
from tests.helpers import assert_error, store_events

pytestmark = pytest.mark.django_db

FEED = "/api/notifications/"


def store(user, count: int) -> list[Notification]:
    return store_events(user, count, EventType.NEW_MESSAGE)


def test_the_feed_defaults_to_the_newest_50_oldest_first(client_for, alice, bob):
    events = store(alice, 60)
    store(bob, 3)
    body = client_for(alice).get(FEED).json()
    assert [e["id"] for e in body] == [e.id for e in events[10:]]
    assert body[0] == {**event_frame(events[10]), "read_at": None}


def test_the_feed_after_an_id_pages_forward_without_gaps(client_for, alice):
    events = store(alice, 25)
    client, seen, after = client_for(alice), [], 0
    while page := client.get(FEED, {"after": after, "limit": 10}).json():
        seen += [e["id"] for e in page]
        after = page[-1]["id"]
    assert seen == [e.id for e in events]


def test_a_page_stays_stable_when_events_are_added_meanwhile(client_for, alice):
    events = store(alice, 5)
    client = client_for(alice)
    first = client.get(FEED, {"after": 0, "limit": 3}).json()
    newer = store(alice, 2)
    rest = client.get(FEED, {"after": first[-1]["id"], "limit": 10}).json()
    assert [e["id"] for e in first + rest] == [e.id for e in events + newer]


def test_a_limit_above_200_is_capped(client_for, alice):
    store(alice, 205)
    assert len(client_for(alice).get(FEED, {"after": 0, "limit": 1000}).json()) == 200


@pytest.mark.parametrize(
    "query",
    [{"limit": 0}, {"limit": -1}, {"limit": "x"}, {"limit": ""}, {"after": -1}, {"after": "x"}],
)
def test_a_bad_after_or_limit_is_a_400(client_for, alice, query):
    assert_error(client_for(alice).get(FEED, query), 400, "validation_error")


def test_unread_count_counts_only_your_unread_events(client_for, alice, bob):
    events = store(alice, 3)
    store(bob, 2)
    Notification.objects.filter(pk=events[0].pk).update(read_at=events[0].created_at)
    assert client_for(alice).get(f"{FEED}unread_count/").json() == {"unread": 2}


def test_marking_read_by_ids_touches_only_your_own_events(client_for, alice, bob):
    mine, theirs = store(alice, 3), store(bob, 1)
    response = client_for(alice).post(
        f"{FEED}read/", {"ids": [mine[0].pk, mine[2].pk, theirs[0].pk]}, format="json"
    )
    assert response.json() == {"marked_read": 2}
    unread = Notification.objects.filter(read_at__isnull=True).values_list("id", flat=True)
    assert sorted(unread) == [mine[1].pk, theirs[0].pk]


def test_marking_read_up_to_an_id_and_again_marks_nothing_more(client_for, alice, bob):
    mine, theirs = store(alice, 4), store(bob, 1)
    client = client_for(alice)
    assert client.post(f"{FEED}read/", {"up_to": mine[2].pk}, format="json").json() == {
        "marked_read": 3
    }
    assert client.post(f"{FEED}read/", {"up_to": mine[2].pk}, format="json").json() == {
        "marked_read": 0
    }
    assert client.get(f"{FEED}unread_count/").json() == {"unread": 1}
    assert Notification.objects.get(pk=theirs[0].pk).read_at is None
    feed = client.get(FEED).json()
    assert [e["read_at"] is not None for e in feed] == [True, True, True, False]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": [1], "up_to": 1},
        {"ids": "1"},
        {"ids": [True]},
        {"ids": [None]},
        {"up_to": "x"},
        {"up_to": 0},
        {"ids": [2**64]},
        [],
    ],
)
def test_a_bad_read_body_is_a_400(client_for, alice, body):
    assert_error(
        client_for(alice).post(f"{FEED}read/", body, format="json"), 400, "validation_error"
    )


@pytest.mark.parametrize("path", ["", "unread_count/"])
def test_the_feed_needs_authentication(anon, path):
    assert_error(anon.get(f"{FEED}{path}"), 401, "not_authenticated")
