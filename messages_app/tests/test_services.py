"""Services and selectors of messages: sending, marking read, threads, conversations."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction

from friends.services import friendship_remove
from messages_app import selectors, services
from messages_app.models import MAX_CONTENT_LENGTH, Message
from notifications import selectors as notification_selectors
from notifications.models import EventType, Notification
from notifications.services import user_group_name
from numeneon.errors import ApplicationError, Forbidden, NotFound
from tests.helpers import events_for, summary

pytestmark = pytest.mark.django_db


def send(sender, receiver, content="hello"):
    return services.message_send(actor=sender, receiver_id=receiver.pk, content=content)


# --- message_send ---------------------------------------------------------------------------


def test_sending_stores_the_message_trimmed_and_unread(friends):
    alice, bob = friends
    message = send(alice, bob, "  \n hello  there \t ")
    stored = Message.objects.get(pk=message.pk)
    assert stored.sender_id == alice.pk
    assert stored.receiver_id == bob.pk
    assert stored.content == "hello  there"
    assert stored.is_read is False
    # The statement is written out: what it returns is what the ORM reads back.
    fields = [f.attname for f in Message._meta.concrete_fields]
    assert [getattr(message, f) for f in fields] == [getattr(stored, f) for f in fields]
    assert not message._state.adding and message.created_at.tzinfo is not None


def test_sending_accepts_the_maximum_length_counted_after_trimming(friends):
    alice, bob = friends
    message = send(alice, bob, "   " + "x" * MAX_CONTENT_LENGTH + "   ")
    assert len(Message.objects.get(pk=message.pk).content) == MAX_CONTENT_LENGTH


def test_sending_counts_length_in_code_points_not_bytes_or_utf16_units(friends):
    alice, bob = friends
    message = send(alice, bob, "😀" * MAX_CONTENT_LENGTH)
    assert Message.objects.get(pk=message.pk).content == "😀" * MAX_CONTENT_LENGTH


def test_sending_one_character_too_many_is_refused(friends):
    alice, bob = friends
    with pytest.raises(ApplicationError) as excinfo:
        send(alice, bob, "😀" * (MAX_CONTENT_LENGTH + 1))
    assert excinfo.value.code == "content_too_long"
    assert excinfo.value.status_code == 400


@pytest.mark.parametrize("content", ["", "   ", "\n\t \r\n"])
def test_sending_empty_or_blank_content_is_refused(friends, content):
    alice, bob = friends
    with pytest.raises(ApplicationError) as excinfo:
        send(alice, bob, content)
    assert excinfo.value.code == "empty_content"
    assert excinfo.value.status_code == 400


def test_sending_to_yourself_is_refused(alice):
    with pytest.raises(ApplicationError) as excinfo:
        send(alice, alice)
    assert excinfo.value.code == "cannot_message_self"
    assert excinfo.value.status_code == 400


def test_sending_to_an_unknown_user_is_not_found(alice):
    with pytest.raises(NotFound) as excinfo:
        services.message_send(actor=alice, receiver_id=999_999, content="hi")
    assert excinfo.value.code == "user_not_found"


def test_sending_to_a_deactivated_friend_is_not_found(friends):
    alice, bob = friends
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    with pytest.raises(NotFound):
        send(alice, bob)


def test_sending_to_someone_who_is_not_a_friend_is_forbidden(alice, charlie):
    with pytest.raises(Forbidden) as excinfo:
        send(alice, charlie)
    assert excinfo.value.code == "not_friends"


def test_sending_after_the_friendship_was_removed_is_forbidden(friends):
    alice, bob = friends
    send(alice, bob)
    friendship_remove(actor=bob, user_id=alice.pk)
    with pytest.raises(Forbidden):
        send(alice, bob)


@pytest.mark.parametrize(
    "case", ["not_friends", "self", "empty", "too_long", "unknown_receiver", "inactive"]
)
def test_a_refused_send_stores_no_message_and_no_event(alice, bob, charlie, befriend, case):
    befriend(alice, bob)
    if case == "inactive":
        bob.is_active = False
        bob.save(update_fields=["is_active"])
    receiver_id, content = {
        "not_friends": (charlie.pk, "hi"),
        "self": (alice.pk, "hi"),
        "empty": (bob.pk, "  "),
        "too_long": (bob.pk, "x" * (MAX_CONTENT_LENGTH + 1)),
        "unknown_receiver": (999_999, "hi"),
        "inactive": (bob.pk, "hi"),
    }[case]
    with pytest.raises(ApplicationError):
        services.message_send(actor=alice, receiver_id=receiver_id, content=content)
    assert not Message.objects.exists()
    assert not Notification.objects.exists()


def test_sending_stores_new_message_for_the_receiver_and_message_sent_for_the_sender_alone(
    friends, charlie
):
    alice, bob = friends
    message = send(alice, bob, " hi bob ")
    [event] = events_for(bob)
    [echo] = events_for(alice)
    assert events_for(charlie) == []
    assert event.type == EventType.NEW_MESSAGE
    assert event.read_at is None
    rest = selectors.message_out(Message.objects.select_related("sender", "receiver").get())
    assert event.data == {
        "from_user": {"id": alice.pk, "username": "alice"},
        "message": {"id": message.pk, "content": "hi bob", "created_at": rest["created_at"]},
        "id": message.pk,
        "sender": {"id": alice.pk, "username": "alice"},
        "receiver": {"id": bob.pk, "username": "bob"},
        "content": "hi bob",
        "is_read": False,
        "created_at": rest["created_at"],
    }
    assert {k: event.data[k] for k in rest} == rest
    assert echo.type == EventType.MESSAGE_SENT
    assert echo.data == event.data
    # Her own message: nothing for her to read, so her unread count does not grow.
    assert echo.read_at == echo.created_at
    assert notification_selectors.unread_count(user_id=alice.pk) == 0


def test_both_events_are_pushed_to_their_own_person_only_after_commit(
    friends, charlie, befriend, django_capture_on_commit_callbacks, in_memory_layer
):
    alice, bob = friends
    befriend(alice, charlie)
    layer = in_memory_layer
    channels = {}
    for person in (alice, bob, charlie):
        channels[person.username] = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(user_group_name(person.pk), channels[person.username])

    async def receive(name: str, seconds: float) -> dict:
        async with asyncio.timeout(seconds):
            return await layer.receive(channels[name])

    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            message = send(alice, bob, "pushed")
        for name in channels:  # not committed yet: nothing on the wire
            with pytest.raises(asyncio.TimeoutError):
                async_to_sync(receive)(name, 0.05)
        assert callbacks
        for callback in callbacks:
            callback()
        to_bob = async_to_sync(receive)("bob", 1)
        to_alice = async_to_sync(receive)("alice", 1)
        for name in channels:  # one frame each, and none for charlie
            with pytest.raises(asyncio.TimeoutError):
                async_to_sync(receive)(name, 0.05)
    finally:
        async_to_sync(layer.flush)()

    [event] = events_for(bob)
    [echo] = events_for(alice)
    for pushed, stored, event_type in (
        (to_bob, event, "new_message"),
        (to_alice, echo, "message_sent"),
    ):
        frame = json.loads(pushed["text"])
        assert pushed["id"] == stored.pk
        assert frame["type"] == event_type
        assert frame["id"] == stored.pk
        assert frame["data"]["id"] == message.pk
        assert frame["data"] == stored.data
    assert json.loads(to_alice["text"])["data"] == json.loads(to_bob["text"])["data"]


def test_a_rolled_back_send_stores_and_pushes_nothing(friends, django_capture_on_commit_callbacks):
    alice, bob = friends
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            send(alice, bob, "never")
            raise RuntimeError("something later in the same transaction failed")
    assert callbacks == []
    assert not Message.objects.exists()
    assert not Notification.objects.exists()


# --- messages_mark_read ---------------------------------------------------------------------


def test_marking_read_marks_only_that_users_messages_to_you(alice, bob, charlie, befriend):
    befriend(alice, bob)
    befriend(alice, charlie)
    from_bob = [send(bob, alice, f"b{i}") for i in range(3)]
    from_charlie = send(charlie, alice, "c")
    to_bob = send(alice, bob, "a")

    assert services.messages_mark_read(actor=alice, other_id=bob.pk) == 3

    assert all(Message.objects.get(pk=m.pk).is_read for m in from_bob)
    assert Message.objects.get(pk=from_charlie.pk).is_read is False
    assert Message.objects.get(pk=to_bob.pk).is_read is False


def test_marking_read_twice_marks_nothing_the_second_time(friends):
    alice, bob = friends
    send(bob, alice)
    assert services.messages_mark_read(actor=alice, other_id=bob.pk) == 1
    assert services.messages_mark_read(actor=alice, other_id=bob.pk) == 0


def test_marking_read_tells_the_sender_once_with_the_reader_and_the_newest_id(friends):
    alice, bob = friends
    send(bob, alice, "one")
    newest = send(bob, alice, "two")
    services.messages_mark_read(actor=alice, other_id=bob.pk)
    [event] = events_for(bob, EventType.MESSAGES_READ)
    assert event.data == {"reader": summary(alice), "up_to_id": newest.pk, "count": 2}
    assert events_for(alice, EventType.MESSAGES_READ) == []


def test_marking_nothing_read_stores_no_event(friends):
    alice, bob = friends
    send(alice, bob)  # the other direction: nothing from bob to alice
    assert services.messages_mark_read(actor=alice, other_id=bob.pk) == 0
    assert not Notification.objects.filter(type=EventType.MESSAGES_READ).exists()


def test_marking_read_an_unknown_user_is_not_found(alice):
    with pytest.raises(NotFound):
        services.messages_mark_read(actor=alice, other_id=999_999)


def test_marking_read_yourself_is_not_found(alice):
    with pytest.raises(NotFound):
        services.messages_mark_read(actor=alice, other_id=alice.pk)


def test_marking_read_works_for_a_sender_who_was_deactivated_since(friends):
    alice, bob = friends
    send(bob, alice)
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    assert services.messages_mark_read(actor=alice, other_id=bob.pk) == 1


# --- selectors ------------------------------------------------------------------------------


def test_a_thread_holds_both_directions_oldest_first(friends):
    alice, bob = friends
    sent = [send(alice, bob, "1"), send(bob, alice, "2"), send(alice, bob, "3")]
    for user, other in ((alice, bob), (bob, alice)):
        thread = selectors.thread(user=user, other_id=other.pk, before=None, limit=50)
        assert [m.pk for m in thread] == [m.pk for m in sent]


def test_a_thread_gives_the_newest_messages_older_than_before(friends):
    alice, bob = friends
    ids = [send(alice, bob, str(i)).pk for i in range(10)]
    thread = selectors.thread(user=alice, other_id=bob.pk, before=ids[7], limit=3)
    assert [m.pk for m in thread] == ids[4:7]


def test_a_thread_leaves_out_other_conversations(alice, bob, charlie, befriend):
    befriend(alice, bob)
    befriend(alice, charlie)
    send(alice, bob)
    send(bob, alice)
    to_charlie = send(alice, charlie)
    thread = selectors.thread(user=charlie, other_id=alice.pk, before=None, limit=50)
    assert [m.pk for m in thread] == [to_charlie.pk]
    assert selectors.thread(user=charlie, other_id=bob.pk, before=None, limit=50) == []


def test_conversations_are_newest_first_with_their_own_unread_counts(alice, bob, charlie, befriend):
    befriend(alice, bob)
    befriend(alice, charlie)
    send(bob, alice, "b1")
    send(bob, alice, "b2")
    send(charlie, alice, "c1")
    last = send(alice, bob, "a1")

    conversations = selectors.conversations(user=alice)
    assert [c["user"] for c in conversations] == [summary(bob), summary(charlie)]
    assert [c["unread_count"] for c in conversations] == [2, 1]
    assert conversations[0]["last_message"]["id"] == last.pk
    assert conversations[0]["last_message"]["content"] == "a1"

    # Seen from bob: alice's message to him is his one unread.
    [for_bob] = selectors.conversations(user=bob)
    assert for_bob["user"] == summary(alice)
    assert for_bob["unread_count"] == 1


def test_conversations_of_someone_who_never_wrote_are_empty(alice):
    assert selectors.conversations(user=alice) == []


@pytest.mark.parametrize("partners", [1, 10])
def test_conversations_take_two_queries_however_many_there_are(
    alice, make_user, befriend, django_assert_num_queries, partners
):
    for i in range(partners):
        other = make_user(f"partner{i}")
        befriend(alice, other)
        send(alice, other, "hi")
        send(other, alice, "hello")
    with django_assert_num_queries(2):
        conversations = selectors.conversations(user=alice)
    assert len(conversations) == partners
    assert all(c["unread_count"] == 1 for c in conversations)


def test_unread_count_counts_unread_messages_to_you_only(alice, bob, charlie, befriend):
    befriend(alice, bob)
    befriend(alice, charlie)
    send(bob, alice)
    send(bob, alice)
    send(charlie, alice)
    send(alice, bob)
    assert selectors.unread_count(user=alice) == 3
    services.messages_mark_read(actor=alice, other_id=bob.pk)
    assert selectors.unread_count(user=alice) == 1
    assert selectors.unread_count(user=bob) == 1


def test_sending_a_message_takes_a_fixed_small_number_of_queries(
    alice, bob, befriend, django_assert_num_queries
):
    befriend(alice, bob)
    # savepoint + release (the test's own transaction is outside), both users and the
    # friendship in one (both users' locks on PostgreSQL with them), the message, and both
    # events (new_message, message_sent) with each user's previous event id: one statement on
    # PostgreSQL, two on SQLite.
    with django_assert_num_queries(5 if connection.vendor == "postgresql" else 6):
        services.message_send(actor=alice, receiver_id=bob.pk, content="counted")


@pytest.mark.django_db(transaction=True)
def test_two_friends_writing_to_each_other_at_once_neither_deadlock_nor_lose_an_event(
    alice, bob, charlie, befriend
):
    """message_send locks both users' rows: always in id order, so that alice->bob and
    bob->alice at the same moment wait for each other instead of deadlocking."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    befriend(alice, bob)
    befriend(charlie, bob)

    def write(sender, receiver, count):
        try:
            return [send(sender, receiver, f"{n}").pk for n in range(count)]
        finally:
            connection.close()

    pairs = [(alice, bob), (bob, alice), (charlie, bob), (bob, alice)]
    with ThreadPoolExecutor(len(pairs)) as pool:
        sent = [f.result() for f in [pool.submit(write, s, r, 25) for s, r in pairs]]

    assert sum(len(ids) for ids in sent) == 100
    assert len(events_for(bob, EventType.NEW_MESSAGE)) == 50
    assert len(events_for(alice, EventType.NEW_MESSAGE)) == 50
    assert len(events_for(bob, EventType.MESSAGE_SENT)) == 50
    assert len(events_for(alice, EventType.MESSAGE_SENT)) == 25
    assert len(events_for(charlie, EventType.MESSAGE_SENT)) == 25


@pytest.mark.django_db(transaction=True)
def test_alice_to_bob_and_bob_to_alice_at_the_same_instant_never_deadlock(
    alice, bob, charlie, befriend
):
    """Each message locks both users' rows (both get an event): always in id order, in one
    statement. Were it the sender's row first, these two threads would deadlock on PostgreSQL
    (each holding its own row, waiting for the other's); a friend removed meanwhile takes one
    user's row only, after the friendship's."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from friends.services import friendship_remove

    befriend(alice, bob)
    befriend(alice, charlie)
    rounds = 30
    start = threading.Barrier(3)

    def write(sender, receiver):
        try:
            sent = []
            for n in range(rounds):
                if n == 0:
                    start.wait()
                sent.append(send(sender, receiver, f"{n}").pk)
            return sent
        finally:
            connection.close()

    def remove_charlie():
        try:
            start.wait()
            friendship_remove(actor=charlie, user_id=alice.pk)
        finally:
            connection.close()

    with ThreadPoolExecutor(3) as pool:
        futures = [
            pool.submit(write, alice, bob),
            pool.submit(write, bob, alice),
            pool.submit(remove_charlie),
        ]
        results = [f.result(timeout=60) for f in futures]

    assert [len(r) for r in results[:2]] == [rounds, rounds]
    for person in (alice, bob):
        kinds = [e.type for e in events_for(person) if e.type != EventType.FRIEND_REMOVED]
        assert kinds.count(EventType.NEW_MESSAGE) == rounds
        assert kinds.count(EventType.MESSAGE_SENT) == rounds
    assert [e.type for e in events_for(alice, EventType.FRIEND_REMOVED)] == ["friend_removed"]
    # In each stream the events follow the messages' commit order: every message of bob's
    # is stored for him (message_sent) and for alice (new_message) in the same order.
    sent_by_bob = [e.data["id"] for e in events_for(bob, EventType.MESSAGE_SENT)]
    got_by_alice = [e.data["id"] for e in events_for(alice, EventType.NEW_MESSAGE)]
    assert sent_by_bob == got_by_alice == results[1]
