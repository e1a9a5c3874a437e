"""The socket at /ws/notifications/, in process, with WebsocketCommunicator."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User
from notifications.models import EventType, Notification
from notifications.services import LAYER_EVENT, event_frame, notify, user_group_name
from notifications.tests.conftest import anotify
from tests.helpers import access_token, closed_with, established

pytestmark = [pytest.mark.django_db(transaction=True)]


def forged_token(user: User) -> str:
    import jwt

    payload = {"token_type": "access", "user_id": str(user.pk), "exp": 9999999999, "jti": "x"}
    return jwt.encode(payload, "a-key-that-is-not-ours-but-long-enough", algorithm="HS256")


def unsigned_token(user: User) -> str:
    import base64

    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    payload = {"token_type": "access", "user_id": str(user.pk), "exp": 9999999999, "jti": "x"}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


@pytest.mark.parametrize(
    "make_query",
    [
        lambda user: "",
        lambda user: "token=",
        lambda user: "token=garbage",
        lambda user: f"token={forged_token(user)}",
        lambda user: f"token={unsigned_token(user)}",
        lambda user: f"token={access_token(user, -1)}",
        lambda user: f"token={RefreshToken.for_user(user)}",
        lambda user: "token=" + "a" * 10000,
    ],
    ids=["none", "empty", "garbage", "forged", "alg-none", "expired", "refresh-token", "huge"],
)
async def test_a_bad_credential_is_accepted_then_closed_with_4001(connect, alice, make_query):
    communicator = await connect(query=await database_sync_to_async(make_query)(alice))
    assert await closed_with(communicator) == 4001


async def test_a_token_of_a_deleted_user_is_closed_with_4001(connect, alice):
    query = f"token={AccessToken.for_user(alice)}"
    await database_sync_to_async(alice.delete)()
    communicator = await connect(query=query)
    assert await closed_with(communicator) == 4001


async def test_an_inactive_user_is_closed_with_4003(connect, alice):
    query = f"token={AccessToken.for_user(alice)}"
    await User.objects.filter(pk=alice.pk).aupdate(is_active=False)
    communicator = await connect(query=query)
    assert await closed_with(communicator) == 4003


async def test_connecting_sends_connection_established_with_the_newest_event_id(connect, alice):
    communicator = await connect(alice)
    assert await established(communicator) == {
        "type": "connection_established",
        "user_id": alice.pk,
        "message": "Connected to NUMENEON notifications.",
        "last_event_id": 0,
    }
    await communicator.disconnect()

    event = await anotify(recipient_id=alice.pk, event_type=EventType.FRIEND_REQUEST, data={"k": 1})
    communicator = await connect(alice)
    assert (await established(communicator))["last_event_id"] == event.id
    await communicator.disconnect()


async def test_ping_gets_pong(connect, alice):
    communicator = await connect(alice)
    await established(communicator)
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "invalid_json"),
        ("{", "invalid_json"),
        ("[" * 50000, "invalid_json"),
        ("[1, 2]", "bad_frame"),
        ('"ping"', "bad_frame"),
        ("null", "bad_frame"),
        ("{}", "bad_frame"),
        ('{"type": 5}', "bad_frame"),
        ('{"type": null}', "bad_frame"),
        ('{"type": "subscribe"}', "unknown_type"),
        ('{"type": "ack"}', "bad_frame"),
        ('{"type": "ack", "last_event_id": "7"}', "bad_frame"),
        ('{"type": "ack", "last_event_id": true}', "bad_frame"),
        ('{"type": "ack", "last_event_id": -1}', "bad_frame"),
        ('{"type": "ack", "last_event_id": 99999999999999999999999}', "bad_frame"),
    ],
)
async def test_a_bad_frame_gets_an_error_frame_and_the_socket_stays_open(
    connect, alice, text, code
):
    communicator = await connect(alice)
    await established(communicator)
    await communicator.send_to(text_data=text)
    frame = await communicator.receive_json_from()
    assert frame["type"] == "error"
    assert frame["code"] == code
    assert isinstance(frame["message"], str) and frame["message"]
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


async def test_a_binary_frame_is_a_bad_frame(connect, alice):
    communicator = await connect(alice)
    await established(communicator)
    await communicator.send_to(bytes_data=b'{"type": "ping"}')
    assert (await communicator.receive_json_from())["code"] == "bad_frame"
    await communicator.disconnect()


async def test_every_socket_of_a_user_gets_the_event_and_nobody_else_does(
    connect, alice, bob, charlie
):
    bob_tab_1, bob_tab_2, charlie_tab = (
        await connect(bob),
        await connect(bob),
        await connect(charlie),
    )
    for communicator in (bob_tab_1, bob_tab_2, charlie_tab):
        await established(communicator)

    event = await anotify(
        recipient_id=bob.pk, event_type=EventType.FRIEND_REQUEST, data={"request_id": 1}
    )
    expected = await database_sync_to_async(event_frame)(event)
    assert await bob_tab_1.receive_json_from() == expected
    assert await bob_tab_2.receive_json_from() == expected
    assert await charlie_tab.receive_nothing(timeout=0.3)
    for communicator in (bob_tab_1, bob_tab_2, charlie_tab):
        await communicator.disconnect()


async def test_an_event_reaches_the_socket_framed_as_the_contract_says(connect, alice, bob):
    communicator = await connect(bob)
    await established(communicator)
    event = await anotify(
        recipient_id=bob.pk,
        event_type=EventType.FRIEND_REQUEST,
        data={"request_id": 9, "from_user": {"id": alice.pk, "username": "alice"}},
    )
    frame = await communicator.receive_json_from()
    assert set(frame) == {"type", "id", "created_at", "data"}
    assert frame["type"] == "friend_request"
    assert frame["id"] == event.id
    assert frame["created_at"].endswith("Z")
    assert frame["data"] == {"request_id": 9, "from_user": {"id": alice.pk, "username": "alice"}}
    await communicator.disconnect()


def _notify_then_fail(recipient_id: int) -> None:
    with transaction.atomic():
        notify(recipient_id=recipient_id, event_type=EventType.FRIEND_REQUEST, data={})
        raise RuntimeError("the transaction that caused the event fails")


async def test_no_event_is_pushed_or_stored_when_the_transaction_rolls_back(connect, bob):
    communicator = await connect(bob)
    await established(communicator)
    with pytest.raises(RuntimeError):
        await database_sync_to_async(_notify_then_fail)(bob.pk)
    assert await communicator.receive_nothing(timeout=0.5)
    assert await Notification.objects.acount() == 0
    await communicator.disconnect()


async def test_a_missed_push_is_filled_from_the_database_in_order_and_a_late_one_dropped(
    connect, bob
):
    communicator = await connect(bob)
    await established(communicator)
    # Stored and committed, but its push never arrives (dropped by a full channel, say).
    lost = await Notification.objects.acreate(recipient=bob, type="friend_request", data={"n": 1})
    latest = await anotify(recipient_id=bob.pk, event_type=EventType.FRIEND_REQUEST, data={"n": 2})
    first, second = await communicator.receive_json_from(), await communicator.receive_json_from()
    assert [first["id"], second["id"]] == [lost.id, latest.id]
    assert [first["data"], second["data"]] == [{"n": 1}, {"n": 2}]

    # The lost push turns up after all: it was sent already, so it is dropped.
    await get_channel_layer().group_send(
        user_group_name(bob.pk),
        {"type": LAYER_EVENT, "id": lost.id, "prev_id": 0, "text": '{"late": true}'},
    )
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_ack_marks_the_users_events_read_up_to_the_id(connect, alice, bob):
    events = [
        await anotify(recipient_id=alice.pk, event_type="friend_request", data={}) for _ in range(3)
    ]
    other = await anotify(recipient_id=bob.pk, event_type="friend_request", data={})
    communicator = await connect(alice)
    await established(communicator)
    await communicator.send_json_to({"type": "ack", "last_event_id": events[1].id})
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    unread = [n.id async for n in Notification.objects.filter(read_at__isnull=True).order_by("id")]
    assert unread == [events[2].id, other.id]
    await communicator.disconnect()
