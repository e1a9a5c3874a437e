"""End to end: real Daphne processes, a real Redis channel layer, real WebSocket clients."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.servers import Person, befriend, stored_event_ids

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def ask(asker: Person, asked: Person) -> int:
    """`asker` sends `asked` a friend request over REST; the request's id."""
    status, sent = await asker.api.apost(f"/api/friends/request/{asked.id}/")
    assert status == 201, sent
    return sent["request"]["id"]


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
        request_id = await ask(alice, bob)
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
        # alice's own socket gets her copy: message_sent with the same data.
        echo = await alice_ws.receive_type("message_sent")
        assert echo["data"] == data
        assert echo["id"] > frame["id"]

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
    await befriend(alice, bob)

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
        request_id = await ask(alice, bob)
        frame = await bob_ws.receive_type("friend_request")
        assert frame["data"]["request_id"] == request_id
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


async def test_a_message_reaches_the_receiver_and_the_senders_other_tab_with_the_same_data(
    server_a, server_b
):
    alice, bob, charlie = (Person(server_a, name) for name in ("alice", "bob", "charlie"))
    await befriend(alice, bob)
    await befriend(alice, charlie)
    # alice has two tabs, on two processes; she writes from neither socket (over REST).
    async with (
        alice.socket(server_a) as writing_tab,
        alice.socket(server_b) as other_tab,
        bob.socket(server_b) as bob_ws,
        charlie.socket(server_a) as charlie_ws,
    ):
        for ws in (writing_tab, other_tab, bob_ws, charlie_ws):
            await ws.receive_type("connection_established")

        status, message = await alice.api.apost(
            "/api/messages/", {"receiver_id": bob.id, "content": "seen in both tabs"}
        )
        assert status == 201, message

        received = await bob_ws.receive_type("new_message")
        assert set(received) == {"type", "id", "created_at", "data"}
        echoes = [await tab.receive_type("message_sent") for tab in (other_tab, writing_tab)]
        for echo in echoes:
            assert set(echo) == {"type", "id", "created_at", "data"}
            assert echo["data"] == received["data"]
            assert echo["data"]["id"] == message["id"]
            assert echo["data"]["sender"] == {"id": alice.id, "username": "alice"}
            assert echo["data"]["receiver"] == {"id": bob.id, "username": "bob"}
            assert echo["data"]["content"] == "seen in both tabs"
        assert echoes[0]["id"] == echoes[1]["id"]
        # Stored too: alice's feed and replay have it, already read.
        status, feed = await asyncio.to_thread(alice.api.get, "/api/notifications/?after=0")
        assert status == 200
        assert feed[-1]["id"] == echoes[0]["id"]
        assert feed[-1]["type"] == "message_sent"
        assert feed[-1]["read_at"] is not None
        assert stored_event_ids(bob, "new_message") == [received["id"]]

        assert await charlie_ws.nothing_within(0.3)
        for ws in (writing_tab, other_tab, bob_ws):
            assert await ws.nothing_within(0.1)


async def test_a_decline_a_cancel_and_a_removal_reach_the_other_person_live(server_a, server_b):
    alice, bob, charlie = (Person(server_a, name) for name in ("alice", "bob", "charlie"))
    async with (
        alice.socket(server_a) as alice_ws,
        bob.socket(server_b) as bob_ws,
        charlie.socket(server_a) as charlie_ws,
    ):
        for ws in (alice_ws, bob_ws, charlie_ws):
            await ws.receive_type("connection_established")

        # alice asks bob, bob declines: alice learns who declined which request.
        request_id = await ask(alice, bob)
        await bob_ws.receive_type("friend_request")
        status, body = await bob.api.apost(f"/api/friends/decline/{request_id}/")
        assert status == 200, body
        frame = await alice_ws.receive_type("friend_request_declined")
        assert set(frame) == {"type", "id", "created_at", "data"}
        assert frame["data"] == {"request_id": request_id, "by": bob.summary}

        # alice asks again, then withdraws it: bob's pending request disappears.
        request_id = await ask(alice, bob)
        await bob_ws.receive_type("friend_request")
        status, body = await asyncio.to_thread(alice.api.delete, f"/api/friends/cancel/{bob.id}/")
        assert status == 200, body
        frame = await bob_ws.receive_type("friend_request_cancelled")
        assert frame["data"] == {"request_id": request_id, "from_user": alice.summary}

        # bob and charlie become friends; charlie ends it: bob learns who did.
        request_id = await ask(bob, charlie)
        await charlie_ws.receive_type("friend_request")
        status, _ = await charlie.api.apost(f"/api/friends/accept/{request_id}/")
        assert status == 201
        await bob_ws.receive_type("friend_accepted")
        status, body = await asyncio.to_thread(charlie.api.delete, f"/api/friends/remove/{bob.id}/")
        assert status == 200, body
        frame = await bob_ws.receive_type("friend_removed")
        assert frame["data"] == {"user": charlie.summary}

        # Nothing else reached anyone; on resume, bob's replay holds all four in id order.
        for ws in (alice_ws, bob_ws, charlie_ws):
            assert await ws.nothing_within(0.2)
    async with bob.socket(server_a, last_event_id=0) as resumed:
        await resumed.receive_type("connection_established")
        replayed = [await resumed.receive() for _ in range(5)]
        done = await resumed.receive_type("replay_complete")
    assert [f["type"] for f in replayed] == [
        "friend_request",
        "friend_request",
        "friend_request_cancelled",
        "friend_accepted",
        "friend_removed",
    ]
    assert [f["id"] for f in replayed] == sorted(f["id"] for f in replayed)
    assert done["count"] == 5
