"""One schema test per event type: the frame a socket receives, every field written out by
hand (the services that emit them are tested in friends and messages_app)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from notifications import events
from notifications.models import EventType, Notification
from notifications.selectors import last_event_id
from notifications.services import NewEvent, notify, notify_each, push_to_users, user_group_name
from tests.helpers import statements, summary

pytestmark = pytest.mark.django_db

ENVELOPE = {"type", "id", "created_at", "data"}


@pytest.fixture
def pushed_frame(in_memory_layer, django_capture_on_commit_callbacks):
    """Store an event with notify(), commit, and answer the frame its recipient's group got,
    decoded, with the stored event."""
    layer = in_memory_layer

    def push(recipient, event_type: EventType, data: dict) -> tuple[dict, Notification]:
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(user_group_name(recipient.pk), channel)
        with django_capture_on_commit_callbacks(execute=True):
            event = notify(recipient_id=recipient.pk, event_type=event_type, data=data)
        message = async_to_sync(layer.receive)(channel)
        async_to_sync(layer.group_discard)(user_group_name(recipient.pk), channel)
        frame = json.loads(message["text"])
        event.refresh_from_db()
        assert set(frame) == ENVELOPE
        assert frame["type"] == event_type.value
        assert frame["id"] == event.pk
        assert message["id"] == event.pk
        created_at = datetime.fromisoformat(frame["created_at"].replace("Z", "+00:00"))
        assert created_at.utcoffset().total_seconds() == 0
        assert created_at == event.created_at.astimezone(UTC)
        # The stored data is the pushed data: the feed and a replay show the same.
        assert event.data == frame["data"]
        return frame, event

    return push


def test_a_friend_accepted_frame_names_who_accepted_three_times_and_says_so_in_words(
    pushed_frame, alice, bob
):
    data = events.friend_accepted_data(request_id=41, accepter=bob)
    frame, _ = pushed_frame(alice, EventType.FRIEND_ACCEPTED, data)
    assert frame["data"] == {
        "request_id": 41,
        "from_user": summary(bob),
        "friend": summary(bob),
        "message": "bob accepted your friend request.",
    }


def test_a_friend_request_declined_frame_names_the_request_and_who_declined(
    pushed_frame, alice, bob
):
    data = events.friend_request_declined_data(request_id=42, decliner=bob)
    frame, _ = pushed_frame(alice, EventType.FRIEND_REQUEST_DECLINED, data)
    assert frame["type"] == "friend_request_declined"
    assert frame["data"] == {"request_id": 42, "by": summary(bob)}


def test_a_friend_request_cancelled_frame_names_the_request_and_who_had_asked(
    pushed_frame, alice, bob
):
    data = events.friend_request_cancelled_data(request_id=43, from_user=alice)
    frame, _ = pushed_frame(bob, EventType.FRIEND_REQUEST_CANCELLED, data)
    assert frame["type"] == "friend_request_cancelled"
    assert frame["data"] == {"request_id": 43, "from_user": summary(alice)}


def test_a_friend_removed_frame_names_who_ended_the_friendship(pushed_frame, alice, bob):
    data = events.friend_removed_data(remover=alice)
    frame, _ = pushed_frame(bob, EventType.FRIEND_REMOVED, data)
    assert frame["type"] == "friend_removed"
    assert frame["data"] == {"user": summary(alice)}


MESSAGE = {
    "id": 7,
    "sender": {"id": 1, "username": "alice"},
    "receiver": {"id": 2, "username": "bob"},
    "content": "hello bob",
    "is_read": False,
    "created_at": "2026-12-07T09:30:00.123456Z",
}


def test_a_message_sent_frame_carries_exactly_the_data_of_new_message(pushed_frame, alice):
    frame, event = pushed_frame(
        alice, EventType.MESSAGE_SENT, events.message_sent_data(message=dict(MESSAGE))
    )
    assert frame["type"] == "message_sent"
    assert frame["data"] == {
        "from_user": {"id": 1, "username": "alice"},
        "message": {"id": 7, "content": "hello bob", "created_at": "2026-12-07T09:30:00.123456Z"},
        "id": 7,
        "sender": {"id": 1, "username": "alice"},
        "receiver": {"id": 2, "username": "bob"},
        "content": "hello bob",
        "is_read": False,
        "created_at": "2026-12-07T09:30:00.123456Z",
    }
    assert frame["data"] == events.new_message_data(message=dict(MESSAGE))
    # It tells the sender of their own message: stored (replayed, listed) but already read.
    assert event.read_at == event.created_at


def test_every_event_type_but_message_sent_is_stored_unread(alice):
    for event_type in EventType:
        event = notify(recipient_id=alice.pk, event_type=event_type, data={})
        event.refresh_from_db()
        assert (event.read_at is not None) == (event_type == EventType.MESSAGE_SENT), event_type


# --- notify_each: the events of one operation for different users, stored together -----------


def test_notify_each_stores_what_the_orm_reads_back_and_pushes_each_with_its_previous_id(
    alice, bob, charlie, in_memory_layer, django_capture_on_commit_callbacks
):
    older = notify(recipient_id=bob.pk, event_type=EventType.FRIEND_REQUEST, data={})
    notify(recipient_id=charlie.pk, event_type=EventType.FRIEND_REQUEST, data={})
    layer = in_memory_layer
    channels = {}
    for person in (alice, bob):
        channels[person.pk] = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(user_group_name(person.pk), channels[person.pk])
    data = {"text": "naïve ✓ \"quoted\" 'single'", "nested": {"list": [1, 2.5, None, True]}}

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        stored = notify_each(
            [
                NewEvent(bob.pk, EventType.NEW_MESSAGE, data),
                NewEvent(alice.pk, EventType.MESSAGE_SENT, data),
            ]
        )

    assert len(callbacks) == 1  # one push call for both
    to_bob, to_alice = stored
    for event in stored:
        fresh = Notification.objects.get(pk=event.pk)
        fields = ("recipient_id", "type", "data", "created_at", "read_at")
        assert [getattr(fresh, f) for f in fields] == [getattr(event, f) for f in fields]
        assert fresh.data == data
    assert (to_bob.recipient_id, to_bob.type, to_bob.read_at) == (bob.pk, "new_message", None)
    assert (to_alice.recipient_id, to_alice.type) == (alice.pk, "message_sent")
    assert to_alice.read_at == to_alice.created_at
    pushed_bob = async_to_sync(layer.receive)(channels[bob.pk])
    pushed_alice = async_to_sync(layer.receive)(channels[alice.pk])
    # The previous event of each recipient: bob's older one; alice had none.
    assert (pushed_bob["id"], pushed_bob["prev_id"]) == (to_bob.pk, older.pk)
    assert (pushed_alice["id"], pushed_alice["prev_id"]) == (to_alice.pk, 0)
    assert json.loads(pushed_bob["text"])["data"] == json.loads(pushed_alice["text"])["data"]


def test_notify_each_twice_gives_each_recipient_the_previous_id_of_the_first(
    alice, bob, in_memory_layer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = notify_each(
            [NewEvent(alice.pk, "new_message", {}), NewEvent(bob.pk, "message_sent", {})]
        )
        second = notify_each(
            [NewEvent(bob.pk, "new_message", {}), NewEvent(alice.pk, "message_sent", {})]
        )
    assert [e.pk for e in second] > [e.pk for e in first]
    newest = {e.recipient_id: e.pk for e in second}
    assert last_event_id(user_id=alice.pk) == newest[alice.pk]
    assert last_event_id(user_id=bob.pk) == newest[bob.pk]


def test_notify_each_refuses_two_events_for_one_recipient(alice):
    with pytest.raises(ValueError):
        notify_each([NewEvent(alice.pk, "new_message", {}), NewEvent(alice.pk, "message_sent", {})])
    assert not Notification.objects.exists()


def test_notify_each_locks_the_recipients_rows_in_id_order_where_the_database_can(alice, bob):
    low, high = sorted((alice.pk, bob.pk))
    _, sqls = statements(
        lambda: notify_each([NewEvent(high, "new_message", {}), NewEvent(low, "message_sent", {})])
    )
    locks = [sql for sql in sqls if "FOR " in sql]
    if connection.features.has_select_for_update:
        assert locks == sqls[:2], sqls
        assert [sql.split("= ")[1].split(" ")[0] for sql in locks] == [str(low), str(high)]
        assert len(sqls) == 3  # the two locks, then the insert with the previous ids
    else:
        assert locks == [] and len(sqls) == 2  # the previous ids, the insert


def test_notify_locks_the_recipients_row_first_where_the_database_can(alice):
    _, sqls = statements(
        lambda: notify(recipient_id=alice.pk, event_type=EventType.FRIEND_REQUEST, data={})
    )
    locks = [sql for sql in sqls if "FOR " in sql]
    if connection.features.has_select_for_no_key_update:
        assert locks == [sqls[0]] and sqls[0].endswith("FOR NO KEY UPDATE"), sqls
        assert 'FROM "accounts_user"' in sqls[0]
    else:
        assert locks == [], sqls
    assert len(sqls) == len(locks) + 2  # the newest event id, the insert


def test_a_push_that_fails_for_one_user_still_reaches_the_other(
    alice, bob, in_memory_layer, monkeypatch
):
    layer = in_memory_layer
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group_name(bob.pk), channel)
    real_group_send = layer.group_send

    async def group_send(group, message):
        if group == user_group_name(alice.pk):
            raise ConnectionError("the layer lost alice's push")
        await real_group_send(group, message)

    monkeypatch.setattr(layer, "group_send", group_send)
    push_to_users(
        [
            (alice.pk, {"type": "notification.event", "n": 1}),
            (bob.pk, {"type": "notification.event", "n": 2}),
        ]
    )
    assert async_to_sync(layer.receive)(channel)["n"] == 2
