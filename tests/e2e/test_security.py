"""Security over real sockets: tickets across processes, Origin, size limits, form bodies,
clean logs."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
from urllib.parse import urlsplit

import pytest
import websockets

from tests.e2e.servers import Api, Person, Socket, befriend

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@contextlib.asynccontextmanager
async def alice_connected(server):
    """alice's socket on `server`, past its connection_established frame."""
    async with Person(server, "alice").socket(server) as ws:
        await ws.receive_type("connection_established")
        yield ws


async def test_a_ticket_from_one_process_opens_a_socket_on_another_once(server_a, server_b):
    alice = Person(server_a, "alice")
    status, body = await asyncio.to_thread(alice.api.post, "/api/auth/ws-ticket/")
    assert status == 201, body
    url = f"{server_b.ws_url}/ws/notifications/?ticket={body['ticket']}"
    async with Socket(url) as ws:
        assert (await ws.receive_type("connection_established"))["user_id"] == alice.id
    async with Socket(url) as replayed:  # replayed on the other process
        assert await replayed.close_code() == 4001


async def test_a_cross_origin_handshake_is_refused_with_403(server_a):
    alice = Person(server_a, "alice")
    url = f"{server_a.ws_url}/ws/notifications/?token={alice.token}"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(url, origin="http://evil.example", open_timeout=5)
    assert refused.value.response.status_code == 403
    async with Socket(url) as ws:  # no Origin: a server or a mobile app
        await ws.receive_type("connection_established")


def handshake_status(server, origins: list[bytes], token: str) -> bytes:
    """The status line Daphne answers a WebSocket handshake with these Origin headers (raw:
    clients refuse to send most of them)."""
    url = urlsplit(server.http_url)
    request = (
        f"GET /ws/notifications/?token={token} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    ).encode() + b"".join(b"Origin: " + origin + b"\r\n" for origin in origins)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(request + b"\r\n")
        answer = b""
        while b"\r\n" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
    return answer.split(b"\r\n")[0]


@pytest.mark.parametrize(
    "origins",
    [
        [b"http://[::1"],  # autobahn's own check could not parse these: it answered 400
        [b"http://localhost:99999"],
        [b"http://"],
        [b"*"],
        [b" "],
        [b"\xff\xfe"],
        [b"null"],
        [b"http://localhost:5173, http://evil.example"],
        [b"http://localhost:5173", b"http://evil.example"],  # the header twice
        [b"http://evil.example"],
    ],
)
async def test_a_handshake_refused_for_its_origin_is_a_403_whatever_is_wrong_with_it(
    server_a, origins
):
    alice = Person(server_a, "alice")
    status = await asyncio.to_thread(handshake_status, server_a, origins, alice.token)
    assert status == b"HTTP/1.1 403 Access denied"
    own_page = f"http://{urlsplit(server_a.http_url).netloc}".encode()
    allowed = await asyncio.to_thread(handshake_status, server_a, [own_page], alice.token)
    assert allowed == b"HTTP/1.1 101 Switching Protocols"


async def test_a_message_over_64_kib_is_refused_by_the_server_with_1009(server_a):
    async with alice_connected(server_a) as ws:
        await ws.send(json.dumps({"type": "ping", "pad": "x" * (64 * 1024)}))
        assert await ws.close_code() == 1009


def post_raw(server, path: str, body: bytes, content_type: str) -> tuple[int, str, bytes]:
    url = urlsplit(server.http_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


async def test_a_malformed_multipart_body_gets_the_contracts_415_not_the_servers_answer(
    server_a,
):
    # Twisted parsed form bodies before the application saw them, and answered a malformed
    # multipart body itself: an empty 400 and a dropped connection.
    status, body_type, body = await asyncio.to_thread(
        post_raw, server_a, "/api/auth/login/", b"not a form", "multipart/form-data; boundary=z"
    )
    assert (status, body_type) == (415, "application/json")
    assert json.loads(body)["code"] == "unsupported_media_type"


async def test_no_credential_reaches_the_server_log_in_a_whole_session(servers):
    server = servers("logs")  # a log of its own, holding only this test's traffic
    start = len(server.log())
    alice, bob = Person(server, "alice"), Person(server, "bob")
    secrets = [alice.token, alice.refresh, bob.token, bob.refresh, "alice-long-password-7"]

    status, login = await asyncio.to_thread(
        Api(server.http_url).post,
        "/api/auth/login/",
        {"username": "alice", "password": "alice-long-password-7"},
    )
    assert status == 200
    secrets += [login["access"], login["refresh"]]
    status, refreshed = await asyncio.to_thread(
        Api(server.http_url).post, "/api/auth/token/refresh/", {"refresh": login["refresh"]}
    )
    assert status == 200
    secrets += [refreshed["access"], refreshed["refresh"]]
    status, ticket = await asyncio.to_thread(alice.api.post, "/api/auth/ws-ticket/")
    secrets.append(ticket["ticket"])
    # Credentials in query strings, where a careless log would print them.
    await asyncio.to_thread(Api(server.http_url).get, f"/api/auth/me/?token={alice.token}")
    await befriend(alice, bob)
    async with (
        Socket(f"{server.ws_url}/ws/notifications/?ticket={ticket['ticket']}") as alice_ws,
        bob.socket(server) as bob_ws,
    ):
        await alice_ws.receive_type("connection_established")
        await bob_ws.receive_type("connection_established")
        status, _ = await alice.api.apost(
            "/api/messages/", {"receiver_id": bob.id, "content": "secret-free"}
        )
        assert status == 201
        await bob_ws.receive_type("new_message")
    async with Socket(f"{server.ws_url}/ws/notifications/?ticket={ticket['ticket']}") as reused:
        assert await reused.close_code() == 4001
    bad = alice.token[:-4] + "AAAA"  # a forged signature, still a credential-shaped secret
    secrets.append(bad)
    async with Socket(f"{server.ws_url}/ws/notifications/?token={bad}") as forged:
        assert await forged.close_code() == 4001
    status, _ = await asyncio.to_thread(Api(server.http_url, bad).get, "/api/auth/me/")
    assert status == 401
    await asyncio.sleep(0.3)  # let the access log lines land

    log = server.log()[start:]
    assert f"socket open user={alice.id}" in log and "POST /api/messages/ 201" in log
    leaked = [s[:12] + "…" for s in secrets if s in log]
    assert leaked == []
    # Not even the fragments that identify a JWT's signature part.
    assert all(s.rsplit(".", 1)[-1] not in log for s in secrets if s.count(".") == 2)


@pytest.mark.parametrize("layer", ["pubsub", "core"])
async def test_one_socket_over_the_cap_on_another_process_closes_the_oldest_with_4009(
    servers, layer
):
    # Two processes of their own with a cap of 3: the registry and the eviction (a message
    # to the oldest socket's channel) cross processes.
    first = servers(f"cap-a-{layer}", CHANNEL_LAYER=layer, WEBSOCKET_MAX_SOCKETS_PER_USER="3")
    second = servers(f"cap-b-{layer}", CHANNEL_LAYER=layer, WEBSOCKET_MAX_SOCKETS_PER_USER="3")
    alice, bob = Person(first, "alice"), Person(first, "bob")
    async with contextlib.AsyncExitStack() as stack:
        tabs = []
        for _ in range(3):
            tabs.append(await stack.enter_async_context(alice.socket(first)))
            await tabs[-1].receive_type("connection_established")
        other_user = await stack.enter_async_context(bob.socket(second))
        await other_user.receive_type("connection_established")
        newest = await stack.enter_async_context(alice.socket(second))
        await newest.receive_type("connection_established")
        assert await tabs[0].close_code() == 4009
        for socket in (*tabs[1:], newest, other_user):
            await socket.send({"type": "ping"})
            assert (await socket.receive())["type"] == "pong"


async def test_a_ping_flood_is_closed_with_4008_like_any_other(server_a):
    # autobahn answers pings below the consumer: they are counted where they are answered.
    async with alice_connected(server_a) as ws:
        for _ in range(50):
            await ws.ws.ping()
        assert await ws.close_code() == 4008


async def test_pings_and_messages_count_together_toward_the_frame_limit(server_a):
    async with alice_connected(server_a) as ws:
        for _ in range(11):
            await ws.ws.ping()
            await ws.send({"type": "ping"})
        assert await ws.close_code() == 4008


async def test_ten_pings_a_second_sustained_never_close_the_socket(server_a):
    async with alice_connected(server_a) as ws:
        for _ in range(25):
            pong = await ws.ws.ping()
            await asyncio.wait_for(pong, 2)
            await asyncio.sleep(0.1)
        await ws.send({"type": "ping"})
        assert await ws.receive_type("pong")
