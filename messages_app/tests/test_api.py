"""The Messages section of the contract, over HTTP: shapes, status codes and error bodies."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messages_app import selectors
from messages_app.models import MAX_CONTENT_LENGTH, Message
from notifications.models import EventType, Notification
from tests.helpers import assert_error, assert_iso_utc, statements, summary

pytestmark = pytest.mark.django_db

URL = "/api/messages/"
CONVERSATIONS = "/api/messages/conversations/"
UNREAD = "/api/messages/unread_count/"
READ_ALL = "/api/messages/read_all/"
# One past the largest 64-bit id, and a 20-digit number: neither fits an id column.
TOO_LARGE_IDS = [str(2**63), "9" * 20, "9" * 40]


def thread_url(user_id) -> str:
    return f"/api/messages/conversation/{user_id}/"


def read_url(user_id) -> str:
    return f"/api/messages/conversation/{user_id}/read/"


def brief(user) -> dict:
    return {"id": user.pk, "username": user.username}


def post_message(client, receiver_id, content="hello"):
    return client.post(URL, {"receiver_id": receiver_id, "content": content}, format="json")


def post_raw(client, body: str):
    return client.generic("POST", URL, body, content_type="application/json")


def send(client, receiver, content="hello") -> dict:
    response = post_message(client, receiver.pk, content)
    assert response.status_code == 201, response.content
    return response.json()


def assert_nothing_stored() -> None:
    assert not Message.objects.exists()
    assert not Notification.objects.exists()


# --- POST /api/messages/ --------------------------------------------------------------------


def test_sending_answers_201_with_the_message(friends, as_alice):
    alice, bob = friends
    response = post_message(as_alice, bob.pk, "hi bob")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "sender", "receiver", "content", "is_read", "created_at"}
    message = Message.objects.get()
    assert body["id"] == message.pk
    assert body["sender"] == {"id": alice.pk, "username": "alice"}
    assert body["receiver"] == {"id": bob.pk, "username": "bob"}
    assert body["content"] == "hi bob"
    assert body["is_read"] is False
    assert_iso_utc(body["created_at"])
    assert datetime.fromisoformat(body["created_at"].replace("Z", "+00:00")) == message.created_at


def test_sending_trims_the_content_and_stores_it_trimmed(friends, as_alice):
    _, bob = friends
    body = send(as_alice, bob, " \n\t hello   world \r\n ")
    assert body["content"] == "hello   world"
    assert Message.objects.get().content == "hello   world"


def test_sending_5000_characters_is_accepted(friends, as_alice):
    _, bob = friends
    body = send(as_alice, bob, "x" * MAX_CONTENT_LENGTH)
    assert body["content"] == "x" * MAX_CONTENT_LENGTH


def test_sending_5000_characters_surrounded_by_white_space_is_accepted(friends, as_alice):
    _, bob = friends
    body = send(as_alice, bob, "  " + "x" * MAX_CONTENT_LENGTH + "\n")
    assert len(body["content"]) == MAX_CONTENT_LENGTH


def test_sending_5000_emoji_is_accepted_as_characters_are_code_points(friends, as_alice):
    _, bob = friends
    body = send(as_alice, bob, "😀" * MAX_CONTENT_LENGTH)
    assert body["content"] == "😀" * MAX_CONTENT_LENGTH
    assert Message.objects.get().content == "😀" * MAX_CONTENT_LENGTH


@pytest.mark.parametrize(
    "content", ["x" * (MAX_CONTENT_LENGTH + 1), "😀" * (MAX_CONTENT_LENGTH + 1)]
)
def test_sending_5001_characters_is_a_400(friends, as_alice, content):
    _, bob = friends
    body = assert_error(post_message(as_alice, bob.pk, content), 400, "validation_error")
    assert "content" in body["errors"]
    assert_nothing_stored()


@pytest.mark.parametrize("content", ["", " ", "   \n\t  "])
def test_sending_empty_or_white_space_content_is_a_400(friends, as_alice, content):
    _, bob = friends
    body = assert_error(post_message(as_alice, bob.pk, content), 400, "validation_error")
    assert "content" in body["errors"]
    assert_nothing_stored()


@pytest.mark.parametrize("content", [42, 1.5, True, None, ["hi"], {"text": "hi"}])
def test_sending_content_that_is_not_a_string_is_a_400(friends, as_alice, content):
    _, bob = friends
    body = assert_error(post_message(as_alice, bob.pk, content), 400, "validation_error")
    assert "content" in body["errors"]
    assert_nothing_stored()


def test_sending_without_content_is_a_400(friends, as_alice):
    _, bob = friends
    response = as_alice.post(URL, {"receiver_id": bob.pk}, format="json")
    body = assert_error(response, 400, "validation_error")
    assert "content" in body["errors"]
    assert_nothing_stored()


def test_sending_content_with_a_null_character_is_a_400(friends, as_alice):
    _, bob = friends
    assert_error(post_message(as_alice, bob.pk, "a\x00b"), 400, "validation_error")
    assert_nothing_stored()


def test_sending_content_with_a_lone_surrogate_is_a_400(friends, as_alice):
    _, bob = friends
    response = post_raw(as_alice, f'{{"receiver_id": {bob.pk}, "content": "a\\ud800b"}}')
    assert_error(response, 400, "parse_error")
    assert_nothing_stored()


def test_sending_without_receiver_id_is_a_400(friends, as_alice):
    response = as_alice.post(URL, {"content": "hi"}, format="json")
    body = assert_error(response, 400, "validation_error")
    assert "receiver_id" in body["errors"]
    assert_nothing_stored()


@pytest.mark.parametrize(
    "receiver_id", ["abc", "", True, False, 1.5, None, [2], {"id": 2}, 0, -1, 2**63]
)
def test_sending_with_a_receiver_id_that_is_not_a_positive_integer_is_a_400(
    friends, as_alice, receiver_id
):
    body = assert_error(post_message(as_alice, receiver_id), 400, "validation_error")
    assert "receiver_id" in body["errors"]
    assert_nothing_stored()


def test_sending_a_json_array_body_is_a_400(friends, as_alice):
    _, bob = friends
    response = post_raw(as_alice, json.dumps([{"receiver_id": bob.pk, "content": "hi"}]))
    assert_error(response, 400, "validation_error")
    assert_nothing_stored()


@pytest.mark.parametrize("body", ['{"receiver_id": 2, "content": "hi"', "{receiver_id: 2}", "nope"])
def test_sending_malformed_json_is_a_400(friends, as_alice, body):
    assert_error(post_raw(as_alice, body), 400, "parse_error")
    assert_nothing_stored()


def test_messaging_yourself_is_a_400(alice, as_alice):
    assert_error(post_message(as_alice, alice.pk), 400, "cannot_message_self")
    assert_nothing_stored()


@pytest.mark.parametrize("receiver_id", [999_999, 2**63 - 1])
def test_messaging_an_unknown_user_is_a_404(alice, as_alice, receiver_id):
    assert_error(post_message(as_alice, receiver_id), 404, "user_not_found")
    assert_nothing_stored()


def test_messaging_someone_who_is_not_a_friend_is_a_403(alice, charlie, as_alice):
    assert_error(post_message(as_alice, charlie.pk), 403, "not_friends")
    assert_nothing_stored()


def test_messaging_a_friend_who_was_removed_is_a_403(friends, as_alice, as_bob):
    alice, bob = friends
    send(as_alice, bob)
    assert as_bob.delete(f"/api/friends/remove/{alice.pk}/").status_code == 200
    assert_error(post_message(as_alice, bob.pk), 403, "not_friends")
    assert_error(post_message(as_bob, alice.pk), 403, "not_friends")
    assert Message.objects.count() == 1


def test_sending_stores_new_message_for_the_receiver_and_message_sent_for_the_sender(
    friends, as_alice
):
    alice, bob = friends
    body = send(as_alice, bob, "  hi bob  ")
    [event] = Notification.objects.filter(recipient=bob)
    [echo] = Notification.objects.filter(recipient=alice)
    assert (echo.type, echo.data) == (EventType.MESSAGE_SENT, event.data)
    assert event.type == EventType.NEW_MESSAGE
    data = event.data
    assert set(data) == {
        "from_user",
        "message",
        "id",
        "sender",
        "receiver",
        "content",
        "is_read",
        "created_at",
    }
    assert data["from_user"] == {"id": alice.pk, "username": "alice"}
    assert data["message"] == {
        "id": body["id"],
        "content": "hi bob",
        "created_at": body["created_at"],
    }
    assert data["id"] == body["id"]
    assert data["sender"] == body["sender"] == brief(alice)
    assert data["receiver"] == body["receiver"] == brief(bob)
    assert data["content"] == body["content"] == "hi bob"
    assert data["is_read"] is body["is_read"] is False
    assert data["created_at"] == body["created_at"]


def test_the_senders_feed_lists_message_sent_already_read_and_her_unread_count_stays(
    friends, as_alice, as_bob
):
    alice, bob = friends
    first = send(as_alice, bob, "one")
    send(as_bob, alice, "two")
    third = send(as_alice, bob, "three")

    feed = as_alice.get("/api/notifications/", {"after": 0}).json()
    assert [(e["type"], e["data"]["id"]) for e in feed] == [
        ("message_sent", first["id"]),
        ("new_message", feed[1]["data"]["id"]),
        ("message_sent", third["id"]),
    ]
    assert [e["id"] for e in feed] == sorted(e["id"] for e in feed)
    assert [e["read_at"] is not None for e in feed] == [True, False, True]
    assert as_alice.get("/api/notifications/unread_count/").json() == {"unread": 1}
    bobs = as_bob.get("/api/notifications/", {"after": 0}).json()
    assert [e["type"] for e in bobs] == ["new_message", "message_sent", "new_message"]
    assert bobs[0]["data"] == feed[0]["data"]


def test_sending_with_the_token_of_a_deactivated_user_is_a_401_and_stores_nothing(
    friends, as_alice
):
    alice, bob = friends
    type(alice).objects.filter(pk=alice.pk).update(is_active=False)
    response = post_message(as_alice, bob.pk)
    assert_error(response, 401, "user_inactive")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_nothing_stored()


def test_sending_with_the_token_of_a_deleted_user_is_a_401_and_stores_nothing(friends, as_alice):
    alice, bob = friends
    alice.delete()
    assert_error(post_message(as_alice, bob.pk), 401, "user_not_found")
    assert_nothing_stored()


def test_sending_reads_the_sender_with_the_receiver_not_once_more_to_authenticate(
    friends, as_alice
):
    _, sqls = statements(lambda: send(as_alice, friends[1]))
    # Both users and the friendship (and, on PostgreSQL, both users' locks), the message,
    # then both events (new_message, message_sent) with each user's previous event id: one
    # statement on PostgreSQL, two on SQLite.
    assert len(sqls) == (3 if connection.vendor == "postgresql" else 4), sqls
    [users] = [sql for sql in sqls if 'FROM "accounts_user"' in sql]
    if connection.features.has_select_for_no_key_update:
        assert users.endswith("FOR NO KEY UPDATE"), users


# --- GET conversations/ ---------------------------------------------------------------------


def test_conversations_list_the_partner_last_message_and_unread_count(friends, as_alice, as_bob):
    alice, bob = friends
    send(as_bob, alice, "one")
    last = send(as_bob, alice, "two")
    response = as_alice.get(CONVERSATIONS)
    assert response.status_code == 200
    assert response.json() == [{"user": summary(bob), "last_message": last, "unread_count": 2}]


def test_conversations_are_newest_first(alice, bob, charlie, befriend, as_alice, client_for):
    befriend(alice, bob)
    befriend(alice, charlie)
    send(as_alice, bob, "to bob")
    send(as_alice, charlie, "to charlie")
    assert [c["user"]["id"] for c in as_alice.get(CONVERSATIONS).json()] == [charlie.pk, bob.pk]
    send(client_for(bob), alice, "bob again")
    assert [c["user"]["id"] for c in as_alice.get(CONVERSATIONS).json()] == [bob.pk, charlie.pk]


def test_conversations_count_only_unread_messages_to_you(
    alice, bob, charlie, befriend, as_alice, as_bob, client_for
):
    befriend(alice, bob)
    befriend(alice, charlie)
    send(as_bob, alice, "b1")
    send(as_bob, alice, "b2")
    send(as_bob, alice, "b3")
    send(as_alice, bob, "a1")  # alice's own message is never unread for her
    send(client_for(charlie), alice, "c1")
    unread = {c["user"]["id"]: c["unread_count"] for c in as_alice.get(CONVERSATIONS).json()}
    assert unread == {bob.pk: 3, charlie.pk: 1}

    as_alice.post(read_url(bob.pk))
    unread = {c["user"]["id"]: c["unread_count"] for c in as_alice.get(CONVERSATIONS).json()}
    assert unread == {bob.pk: 0, charlie.pk: 1}
    assert [c["unread_count"] for c in as_bob.get(CONVERSATIONS).json()] == [1]


def test_conversations_never_show_an_email(alice, bob, charlie, befriend, as_alice, as_bob):
    befriend(alice, bob)
    befriend(alice, charlie)
    send(as_alice, bob)
    send(as_alice, charlie)
    for client in (as_alice, as_bob):
        response = client.get(CONVERSATIONS)
        assert response.status_code == 200
        assert "email" not in response.content.decode()
        assert "@example.com" not in response.content.decode()
        for conversation in response.json():
            assert set(conversation["user"]) == {"id", "username", "first_name", "last_name"}


def test_conversations_of_a_newcomer_are_an_empty_list(alice, as_alice):
    response = as_alice.get(CONVERSATIONS)
    assert response.status_code == 200
    assert response.json() == []


def _open_conversations(alice, make_user, befriend, count: int, prefix: str = "partner") -> None:
    for i in range(count):
        other = make_user(f"{prefix}{i}")
        befriend(alice, other)
        Message.objects.create(sender=alice, receiver=other, content="hi")
        Message.objects.create(sender=other, receiver=alice, content="hello")


@pytest.mark.parametrize("partners", [1, 10])
def test_the_conversations_selector_takes_two_queries_for_1_or_10(
    alice, make_user, befriend, django_assert_num_queries, partners
):
    _open_conversations(alice, make_user, befriend, partners)
    with django_assert_num_queries(2):
        assert len(selectors.conversations(user=alice)) == partners


@pytest.mark.parametrize("partners", [1, 10])
def test_the_conversations_endpoint_takes_as_many_queries_for_1_as_for_10(
    alice, make_user, befriend, as_alice, django_assert_num_queries, partners
):
    _open_conversations(alice, make_user, befriend, partners)
    # One to authenticate the token's user, two for the conversations.
    with django_assert_num_queries(3):
        response = as_alice.get(CONVERSATIONS)
    assert response.status_code == 200
    assert len(response.json()) == partners


def test_the_conversations_endpoint_query_count_does_not_grow(alice, make_user, befriend, as_alice):
    counts = []
    for prefix, total, more in (("first", 1, 1), ("then", 10, 9)):
        _open_conversations(alice, make_user, befriend, more, prefix=prefix)
        with CaptureQueriesContext(connection) as queries:
            response = as_alice.get(CONVERSATIONS)
        assert len(response.json()) == total
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- GET conversation/<user_id>/ ------------------------------------------------------------


@pytest.fixture
def long_thread(friends, client_for):
    """120 messages between alice and bob, both ways; their ids oldest first."""
    alice, bob = friends
    clients = {alice.pk: client_for(alice), bob.pk: client_for(bob)}
    ids = []
    for i in range(120):
        sender, receiver = (alice, bob) if i % 3 else (bob, alice)
        ids.append(send(clients[sender.pk], receiver, f"message {i}")["id"])
    return ids


def test_a_conversation_is_a_plain_list_oldest_first(friends, as_alice, as_bob):
    alice, bob = friends
    sent = [send(as_alice, bob, "1"), send(as_bob, alice, "2"), send(as_alice, bob, "3")]
    for client, other in ((as_alice, bob), (as_bob, alice)):
        response = client.get(thread_url(other.pk))
        assert response.status_code == 200
        assert response.json() == sent


def test_a_conversation_gives_the_newest_50_by_default(long_thread, bob, as_alice):
    response = as_alice.get(thread_url(bob.pk))
    assert [m["id"] for m in response.json()] == long_thread[-50:]


def test_a_conversation_honours_a_smaller_limit(long_thread, bob, as_alice):
    response = as_alice.get(thread_url(bob.pk), {"limit": 7})
    assert [m["id"] for m in response.json()] == long_thread[-7:]


@pytest.mark.parametrize("limit", [101, 1000, 10**18])
def test_a_conversation_limit_above_100_is_capped_not_refused(long_thread, bob, as_alice, limit):
    response = as_alice.get(thread_url(bob.pk), {"limit": limit})
    assert response.status_code == 200
    assert [m["id"] for m in response.json()] == long_thread[-100:]


def test_a_conversation_gives_the_messages_older_than_before(long_thread, bob, as_alice):
    response = as_alice.get(thread_url(bob.pk), {"before": long_thread[30], "limit": 10})
    assert [m["id"] for m in response.json()] == long_thread[20:30]


def test_walking_back_with_before_gives_every_message_once(long_thread, bob, as_alice):
    seen: list[int] = []
    pages = []
    params: dict = {"limit": 50}
    while True:
        page = as_alice.get(thread_url(bob.pk), params).json()
        if not page:
            break
        pages.append(len(page))
        ids = [m["id"] for m in page]
        assert ids == sorted(ids)
        seen = ids + seen
        params["before"] = ids[0]
    assert pages == [50, 50, 20]
    assert seen == long_thread


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "abc"},
        {"limit": "1.5"},
        {"limit": ""},
        {"before": ""},
        {"before": "abc"},
        {"before": "0"},
        {"before": "-5"},
        {"before": "9" * 20},
    ],
)
def test_a_conversation_refuses_a_limit_or_before_that_is_not_a_positive_integer(
    friends, as_alice, params
):
    _, bob = friends
    body = assert_error(as_alice.get(thread_url(bob.pk), params), 400, "validation_error")
    assert set(params) <= set(body["errors"])


@pytest.mark.parametrize("user_id", [999_999, "9" * 18])
def test_a_conversation_with_an_unknown_user_is_a_404(alice, as_alice, user_id):
    assert_error(as_alice.get(thread_url(user_id)), 404, "user_not_found")


@pytest.mark.parametrize("user_id", TOO_LARGE_IDS)
def test_a_conversation_with_an_id_too_large_for_a_column_is_a_404(alice, as_alice, user_id):
    response = as_alice.get(thread_url(user_id))
    assert response.status_code == 404
    assert_error(response, 404, response.json()["code"])


def test_charlie_cannot_see_alice_and_bobs_messages(friends, charlie, client_for, as_alice):
    alice, bob = friends
    send(as_alice, bob, "secret")
    as_charlie = client_for(charlie)
    for other in (alice, bob):
        response = as_charlie.get(thread_url(other.pk))
        assert response.status_code == 200
        assert response.json() == []
    assert as_charlie.get(CONVERSATIONS).json() == []
    assert "secret" not in as_charlie.get(thread_url(alice.pk)).content.decode()


# --- POST conversation/<user_id>/read/ and read_all/?user_id= -------------------------------


def read_by_path(client, user_id):
    return client.post(read_url(user_id))


def read_all(client, user_id):
    return client.post(f"{READ_ALL}?user_id={user_id}")


MARK_READ = pytest.mark.parametrize("mark", [read_by_path, read_all], ids=["path", "read_all"])


@MARK_READ
def test_marking_read_counts_only_that_users_messages_to_you(
    alice, bob, charlie, befriend, as_alice, as_bob, client_for, mark
):
    befriend(alice, bob)
    befriend(alice, charlie)
    for i in range(3):
        send(as_bob, alice, f"b{i}")
    send(client_for(charlie), alice, "c")
    to_bob = send(as_alice, bob, "a")

    response = mark(as_alice, bob.pk)
    assert response.status_code == 200
    assert response.json() == {"marked_read": 3}

    assert as_alice.get(UNREAD).json() == {"unread": 1}  # charlie's
    assert not Message.objects.filter(sender=bob, is_read=False).exists()
    assert Message.objects.get(pk=to_bob["id"]).is_read is False
    assert as_bob.get(UNREAD).json() == {"unread": 1}
    assert [m["is_read"] for m in as_alice.get(thread_url(bob.pk)).json()] == [
        True,
        True,
        True,
        False,
    ]


@MARK_READ
def test_marking_read_a_second_time_marks_zero(friends, as_alice, as_bob, mark):
    alice, bob = friends
    send(as_bob, alice)
    assert mark(as_alice, bob.pk).json() == {"marked_read": 1}
    response = mark(as_alice, bob.pk)
    assert response.status_code == 200
    assert response.json() == {"marked_read": 0}


@MARK_READ
def test_marking_read_stores_one_messages_read_event_for_the_sender(
    friends, as_alice, as_bob, mark
):
    alice, bob = friends
    send(as_bob, alice, "one")
    newest = send(as_bob, alice, "two")
    send(as_alice, bob, "reply")  # alice's own: not hers to mark
    assert mark(as_alice, bob.pk).json() == {"marked_read": 2}
    [event] = Notification.objects.filter(type=EventType.MESSAGES_READ)
    assert event.recipient_id == bob.pk
    assert event.data == {"reader": summary(alice), "up_to_id": newest["id"], "count": 2}


@MARK_READ
def test_marking_zero_messages_read_stores_no_event(friends, as_alice, as_bob, mark):
    alice, bob = friends
    send(as_alice, bob)  # only alice -> bob: nothing for alice to mark
    assert mark(as_alice, bob.pk).json() == {"marked_read": 0}
    send(as_bob, alice)
    mark(as_alice, bob.pk)
    assert mark(as_alice, bob.pk).json() == {"marked_read": 0}
    assert Notification.objects.filter(type=EventType.MESSAGES_READ).count() == 1


@MARK_READ
@pytest.mark.parametrize("user_id", [999_999, "9" * 18])
def test_marking_read_an_unknown_user_is_a_404(alice, as_alice, mark, user_id):
    assert_error(mark(as_alice, user_id), 404, "user_not_found")


@MARK_READ
def test_marking_read_yourself_is_a_404(alice, as_alice, mark):
    assert_error(mark(as_alice, alice.pk), 404, "user_not_found")


@pytest.mark.parametrize("user_id", TOO_LARGE_IDS)
def test_marking_read_with_an_id_too_large_for_a_column_in_the_path_is_a_404(
    alice, as_alice, user_id
):
    response = as_alice.post(read_url(user_id))
    assert response.status_code == 404
    assert_error(response, 404, response.json()["code"])


@pytest.mark.parametrize("query", ["", "?user_id=", "?user_id=abc", "?user_id=0", "?user_id=-1",
                                   "?user_id=1.5", "?user_id=" + "9" * 20, f"?user_id={2**63}",
                                   "?other=2"])  # fmt: skip
def test_read_all_without_a_valid_user_id_is_a_400(alice, as_alice, query):
    body = assert_error(as_alice.post(f"{READ_ALL}{query}"), 400, "validation_error")
    assert "user_id" in body["errors"]


def test_read_all_with_the_largest_id_is_a_404(alice, as_alice):
    assert_error(read_all(as_alice, 2**63 - 1), 404, "user_not_found")


# --- GET unread_count/ ----------------------------------------------------------------------


def test_unread_count_is_zero_for_a_newcomer(alice, as_alice):
    response = as_alice.get(UNREAD)
    assert response.status_code == 200
    assert response.json() == {"unread": 0}


def test_unread_count_counts_unread_messages_to_you_from_everyone(
    alice, bob, charlie, befriend, as_alice, as_bob, client_for
):
    befriend(alice, bob)
    befriend(alice, charlie)
    send(as_bob, alice)
    send(as_bob, alice)
    send(client_for(charlie), alice)
    send(as_alice, bob)
    assert as_alice.get(UNREAD).json() == {"unread": 3}
    assert as_bob.get(UNREAD).json() == {"unread": 1}
    read_by_path(as_alice, charlie.pk)
    assert as_alice.get(UNREAD).json() == {"unread": 2}


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", URL),
        ("get", CONVERSATIONS),
        ("get", thread_url(1)),
        ("post", read_url(1)),
        ("post", f"{READ_ALL}?user_id=1"),
        ("get", UNREAD),
    ],
)
def test_every_messages_endpoint_needs_authentication(alice, anon, method, path):
    response = getattr(anon, method)(path, {} if method == "post" else None, format="json")
    assert_error(response, 401, "not_authenticated")


def test_a_forged_token_is_refused(friends, anon):
    _, bob = friends
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = post_message(anon, bob.pk)
    assert response.status_code == 401
    assert_error(response, 401, response.json()["code"])
    assert_nothing_stored()
