"""Nothing lost: a killed server, a Redis outage, a graceful stop, long-lived sockets, a
client that stops reading."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import socket

import pytest

from tests.e2e.servers import (
    Api,
    DaphneServer,
    Person,
    RedisServer,
    ResumingClient,
    befriend,
    stored_event_ids,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def own_server(server_env, tmp_path):
    """A Daphne of this test's own, to kill or stop; `env` overrides the shared settings."""
    started: list[DaphneServer] = []

    def start(name: str, **env: str) -> DaphneServer:
        server = DaphneServer(name, {**server_env, **env}, tmp_path).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(signal.SIGKILL)


async def wait_until(condition, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def send_messages(sender: Person, receiver: Person, contents: list[str]) -> list[int]:
    sent = []
    for content in contents:
        status, message = await sender.api.apost(
            "/api/messages/", {"receiver_id": receiver.id, "content": content}
        )
        assert status == 201, message  # stored whether or not Redis answers
        sent.append(message["id"])
    return sent


async def test_clients_of_a_killed_server_resume_with_exactly_the_stored_events(
    server_a, own_server
):
    sockets_server = own_server("crash")
    alice = Person(server_a, "alice")
    receivers = [Person(server_a, name) for name in ("bob", "charlie", "dave")]
    for person in receivers:
        await befriend(alice, person)
    clients = [ResumingClient(person, sockets_server) for person in receivers]
    tasks = [asyncio.create_task(client.run()) for client in clients]
    for client in clients:
        await client.wait_live()

    total, sent = 90, 0
    for n in range(total):
        receiver = receivers[n % len(receivers)]
        status, _ = await alice.api.apost(
            "/api/messages/", {"receiver_id": receiver.id, "content": f"message {n}"}
        )
        assert status == 201
        sent += 1
        if n == total // 3:
            sockets_server.stop(signal.SIGKILL)  # mid-stream, no goodbye
        if n == total // 2:
            sockets_server.start()  # same port; clients reconnect by themselves
        await asyncio.sleep(0.01)

    expected = {c.person.id: stored_event_ids(c.person, "new_message") for c in clients}
    await wait_until(lambda: all(len(c.events) >= len(expected[c.person.id]) for c in clients))
    await asyncio.sleep(0.3)  # anything extra (a duplicate) would arrive now
    for client in clients:
        client.stop()
    await asyncio.gather(*tasks)

    received = sum(len(c.events) for c in clients)
    print(f"\ncrash test: {sent} messages sent, {received} events received, "
          f"{sum(c.replayed for c in clients)} of them by replay, "
          f"reconnects {[c.connects - 1 for c in clients]}")  # fmt: skip
    assert sum(len(ids) for ids in expected.values()) == total
    for client in clients:
        assert [e["id"] for e in client.events] == expected[client.person.id]
        assert client.connects >= 2  # really cut off and resumed
        assert client.replayed > 0


# Both of channels-redis's layers: the core one's receive() fails by itself, the pub/sub one
# reconnects silently and is watched (notifications.layerwatch).
@pytest.mark.parametrize("layer", ["pubsub", "core"])
async def test_a_redis_outage_loses_no_event_and_clients_recover(
    server_a, own_server, tmp_path, layer
):
    redis_server = RedisServer(tmp_path).start()
    try:
        server = own_server("outage", REDIS_URL=redis_server.url, CHANNEL_LAYER=layer)
        alice, bob = Person(server, "alice"), Person(server, "bob")
        await befriend(alice, bob)
        client = ResumingClient(bob, server)
        task = asyncio.create_task(client.run())
        await client.wait_live()

        before = await send_messages(alice, bob, [f"before {n}" for n in range(3)])
        await wait_until(lambda: len(client.events) >= len(before))

        redis_server.stop()
        during = await send_messages(alice, bob, [f"during {n}" for n in range(5)])
        await wait_until(lambda: 1013 in client.close_codes)

        redis_server.start()
        after = await send_messages(alice, bob, [f"after {n}" for n in range(3)])
        expected = [i for i in stored_event_ids(bob) if i > client.baseline]
        await wait_until(lambda: len(client.events) >= len(expected))
        await asyncio.sleep(0.3)
        client.stop()
        await task
    finally:
        redis_server.stop()

    messages = [e["data"]["id"] for e in client.events if e["type"] == "new_message"]
    print(f"\nredis outage: {len(before + during + after)} messages sent "
          f"({len(during)} while Redis was down), {len(messages)} received, "
          f"{client.replayed} by replay, close codes {client.close_codes}")  # fmt: skip
    assert [e["id"] for e in client.events] == expected
    assert messages == before + during + after
    assert server.log().count("Push to user") == 1  # logged once, not once per event


async def test_sigterm_closes_every_socket_with_1012_then_exits(server_env, own_server):
    server = own_server("sigterm")
    alice = Person(server, "alice")
    async with alice.socket(server) as first, alice.socket(server) as second:
        await first.receive_type("connection_established")
        await second.receive_type("connection_established")
        server.process.send_signal(signal.SIGTERM)
        assert await first.close_code() == 1012
        assert await second.close_code() == 1012
    assert await asyncio.to_thread(server.process.wait, 10) == 0


async def test_a_socket_open_longer_than_group_expiry_still_receives(own_server):
    # Group expiry is the core layer's (a pub/sub subscription lasts as long as the socket).
    server = own_server("expiry", CHANNEL_LAYER="core", CHANNEL_LAYER_GROUP_EXPIRY="2")
    alice, bob = Person(server, "alice"), Person(server, "bob")
    async with bob.socket(server) as bob_ws:
        await bob_ws.receive_type("connection_established")
        await asyncio.sleep(5)  # channels-redis would have dropped the membership twice over
        status, sent = await alice.api.apost(f"/api/friends/request/{bob.id}/")
        assert status == 201
        frame = await bob_ws.receive_type("friend_request")
        assert frame["data"]["request_id"] == sent["request"]["id"]


async def test_a_client_that_reconnects_after_a_graceful_restart_misses_nothing(
    server_a, own_server
):
    server = own_server("restart")
    alice, bob = Person(server_a, "alice"), Person(server_a, "bob")
    await befriend(alice, bob)
    client = ResumingClient(bob, server)
    task = asyncio.create_task(client.run())
    await client.wait_live()
    server.stop(signal.SIGTERM)
    await send_messages(alice, bob, [f"while restarting {n}" for n in range(5)])
    server.start()
    expected = [i for i in stored_event_ids(bob) if i > client.baseline]
    await wait_until(lambda: len(client.events) >= len(expected))
    client.stop()
    await task
    assert 1012 in client.close_codes
    assert [e["id"] for e in client.events] == expected


def open_socket_then_stop_reading(server: DaphneServer, token: str) -> socket.socket:
    """A WebSocket handshake over a plain TCP socket, and then nothing is read any more: not
    the frames, not the server's pings. Its receive window is small, so what is sent to it
    beyond a few KB stays on the server's side."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws/notifications/?token={token} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        byte = sock.recv(1)  # byte by byte: not one byte of a frame is read
        if not byte:
            raise AssertionError(f"closed during the handshake: {head!r}")
        head += byte
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def friends_with_baseline(server: DaphneServer) -> tuple[Person, Person, int]:
    """alice and bob, friends; bob's newest event id, from a socket opened and closed."""
    alice, bob = Person(server, "alice"), Person(server, "bob")
    await befriend(alice, bob)
    async with bob.socket(server) as ws:
        baseline = (await ws.receive_type("connection_established"))["last_event_id"]
    return alice, bob, baseline


async def assert_replayed(server: DaphneServer, person: Person, after: int, sent: list[int]):
    async with person.socket(server, last_event_id=after) as ws:
        await ws.receive_type("connection_established")
        replayed = [await ws.receive_type("new_message") for _ in sent]
        assert (await ws.receive_type("replay_complete"))["count"] == len(sent)
    assert [frame["data"]["id"] for frame in replayed] == sent


async def test_a_client_that_stops_reading_is_dropped_and_resumes_with_nothing_missed(
    own_server,
):
    # PITFALLS 3: the pub/sub layer has no capacity, so what a client that stopped reading is
    # sent piles up in the server. Daphne's keepalive bounds it for a client that also stopped
    # sending (a frozen tab, a dead network): the unanswered ping drops the connection.
    server = own_server("stuck", WEBSOCKET_PING_INTERVAL="1", WEBSOCKET_PING_TIMEOUT="2")
    alice, bob, baseline = await friends_with_baseline(server)
    start = len(server.log())
    stuck = await asyncio.to_thread(open_socket_then_stop_reading, server, bob.token)
    try:
        await wait_until(lambda: "socket open" in server.log()[start:])
        # 40 KB: ten times the client's window.
        sent = await send_messages(alice, bob, [f"unread {n} " + "x" * 4000 for n in range(10)])
        # Pinged after 1 s of silence (the check runs every 2 s), dropped 2 s later.
        await wait_until(lambda: f"socket closed user={bob.id} code=1006" in server.log()[start:])
    finally:
        stuck.close()
    await assert_replayed(server, bob, baseline, sent)


def masked_text_frame(text: str) -> bytes:
    """One client-to-server text frame (RFC 6455: a client masks what it sends)."""
    payload, mask = text.encode(), os.urandom(4)
    assert len(payload) < 126
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


async def test_a_client_that_sends_but_stops_reading_is_dropped_and_misses_nothing(
    own_server,
):
    # Its pings reset Daphne's keepalive, so only the send timeout catches it.
    server = own_server("deaf", WEBSOCKET_SEND_TIMEOUT="2")
    alice, bob, baseline = await friends_with_baseline(server)
    start = len(server.log())
    deaf = await asyncio.to_thread(open_socket_then_stop_reading, server, bob.token)

    async def keep_pinging() -> None:
        while True:
            try:
                await asyncio.to_thread(deaf.sendall, masked_text_frame('{"type":"ping"}'))
            except OSError:
                return  # dropped
            await asyncio.sleep(0.5)

    pinger = asyncio.create_task(keep_pinging())
    try:
        await wait_until(lambda: "socket open" in server.log()[start:])
        # 6 MB (15 KB a frame): more than the kernel's send buffer takes on loopback (it
        # grows to 4 MB), so frames wait in the server process.
        sent = await send_messages(alice, bob, [f"{n} " + "€" * 4990 for n in range(400)])
        await wait_until(lambda: f"socket closed user={bob.id} code=1006" in server.log()[start:])
        assert "Dropped a WebSocket whose frames had not gone out for 2 s" in server.log()[start:]
    finally:
        pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pinger
        deaf.close()
    await assert_replayed(server, bob, baseline, sent)


@pytest.mark.parametrize("layer", ["pubsub", "core"])
async def test_healthz_reports_a_redis_outage_and_the_recovery(own_server, tmp_path, layer):
    redis_server = RedisServer(tmp_path).start()
    try:
        server = own_server("health", REDIS_URL=redis_server.url, CHANNEL_LAYER=layer)
        api = Api(server.http_url)
        status, body = await asyncio.to_thread(api.get, "/healthz")
        assert (status, body["checks"]) == (200, {"database": "ok", "channel_layer": "ok"})

        redis_server.stop()
        status, body = await asyncio.to_thread(api.get, "/healthz")
        assert status == 503
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["channel_layer"].startswith("failing")

        redis_server.start()
        await wait_until(lambda: api.get("/healthz")[0] == 200, timeout=10)
    finally:
        redis_server.stop()
