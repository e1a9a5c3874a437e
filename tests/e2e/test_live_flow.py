"""End to end: real Daphne processes, a real Redis channel layer, real WebSocket clients."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.servers import Person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def test_request_accept_and_message_reach_the_right_sockets_as_the_contract_says(
    server_a,
):
    alice, bob, charlie = (Person(server_a, name) for name in ("alice", "bob", "charlie"))
    async with (
        alice.socket(server_a) as alice_ws,
        bob.socket(server_a) as bob_ws,
        charlie.socket(server_a) as charlie_ws,
    ):
        hello = await bob_ws.receive_type("connection_established")
        assert hello["user_id"] == bob.id
        assert hello["last_event_id"] == 0
        await alice_ws.receive_type("connection_established")
        await charlie_ws.receive_type("connection_established")

        # alice asks bob: bob's socket gets friend_request.
        status, sent = await alice.api.apost(f"/api/friends/request/{bob.id}/")
        assert status == 201, sent
        request_id = sent["request"]["id"]
        frame = await bob_ws.receive_type("friend_request")
        assert set(frame) == {"type", "id", "created_at", "data"}
        assert frame["data"] == {"request_id": request_id, "from_user": alice.summary}
        first_id = frame["id"]

        # bob accepts: alice gets friend_accepted naming bob twice, and in words.
        status, accepted = await bob.api.apost(f"/api/friends/accept/{request_id}/")
        assert status == 201, accepted
        assert accepted["friend"] == alice.summary
        frame = await alice_ws.receive_type("friend_accepted")
        assert frame["data"] == {
            "request_id": request_id,
            "from_user": bob.summary,
            "friend": bob.summary,
            "message": "bob accepted your friend request.",
        }

        # alice writes: bob's new_message carries the id the REST answer gave.
        status, message = await alice.api.apost(
            "/api/messages/", {"receiver_id": bob.id, "content": "  hello bob  "}
        )
        assert status == 201, message
        frame = await bob_ws.receive_type("new_message")
        assert frame["id"] > first_id
        data = frame["data"]
        assert data["id"] == message["id"]
        assert data["message"] == {
            "id": message["id"],
            "content": "hello bob",
            "created_at": message["created_at"],
        }
        assert data["from_user"] == {"id": alice.id, "username": "alice"}
        for field in ("id", "sender", "receiver", "content", "is_read", "created_at"):
            assert data[field] == message[field], field

        # bob reads: alice learns it.
        status, read = await bob.api.apost(f"/api/messages/conversation/{alice.id}/read/")
        assert (status, read) == (200, {"marked_read": 1})
        frame = await alice_ws.receive_type("messages_read")
        assert frame["data"] == {"reader": bob.summary, "up_to_id": message["id"], "count": 1}

        # Nothing reached the wrong people.
        assert await charlie_ws.nothing_within(0.3)
        assert await alice_ws.nothing_within(0.1)
        assert await bob_ws.nothing_within(0.1)


async def test_a_message_sent_through_one_process_reaches_sockets_held_by_another(
    server_a, server_b
):
    alice, bob = Person(server_a, "alice"), Person(server_a, "bob")
    status, sent = await alice.api.apost(f"/api/friends/request/{bob.id}/")
    assert status == 201
    status, _ = await bob.api.apost(f"/api/friends/accept/{sent['request']['id']}/")
    assert status == 201

    async with bob.socket(server_b) as tab_on_b, bob.socket(server_a) as tab_on_a:
        await tab_on_b.receive_type("connection_established")
        await tab_on_a.receive_type("connection_established")
        status, message = await alice.api.apost(
            "/api/messages/", {"receiver_id": bob.id, "content": "across processes"}
        )
        assert status == 201
        for tab in (tab_on_b, tab_on_a):
            frame = await tab.receive_type("new_message")
            assert frame["data"]["id"] == message["id"]
            assert frame["data"]["content"] == "across processes"


@pytest.mark.parametrize("layer", ["pubsub", "core"])
async def test_a_socket_left_idle_longer_than_the_redis_read_timeout_still_receives(servers, layer):
    # redis-py 8 times reads out after 5 s by default, while channels-redis's core layer
    # blocks 5 s in BZPOPMIN: an idle consumer would crash and its socket close with 1011.
    server = servers(f"idle-{layer}", CHANNEL_LAYER=layer)
    alice, bob = Person(server, "alice"), Person(server, "bob")
    async with bob.socket(server) as bob_ws:
        await bob_ws.receive_type("connection_established")
        await asyncio.sleep(7)
        status, sent = await alice.api.apost(f"/api/friends/request/{bob.id}/")
        assert status == 201
        frame = await bob_ws.receive_type("friend_request")
        assert frame["data"]["request_id"] == sent["request"]["id"]
        await bob_ws.send({"type": "ping"})
        assert await bob_ws.receive() == {"type": "pong"}


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c"])
async def test_a_browser_can_read_the_4001_close_code_of_a_bad_token(server_a, token):
    from tests.e2e.servers import Socket

    async with Socket(f"{server_a.ws_url}/ws/notifications/?token={token}") as ws:
        assert await ws.close_code() == 4001


async def test_frames_from_the_client_get_their_answers_over_a_real_socket(server_a):
    alice = Person(server_a, "alice")
    async with alice.socket(server_a) as ws:
        await ws.receive_type("connection_established")
        await ws.send({"type": "ping"})
        assert await ws.receive() == {"type": "pong"}
        await ws.send("{nope")
        assert (await ws.receive())["code"] == "invalid_json"
        await ws.send({"type": "shout"})
        assert (await ws.receive())["code"] == "unknown_type"
        await ws.ws.send(b"\x00\x01")
        assert (await ws.receive())["code"] == "bad_frame"
        await ws.send({"type": "ping"})
        assert await ws.receive() == {"type": "pong"}
