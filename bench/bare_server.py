"""The ceiling: a plain ASGI application, no Django, that does only the push.

- WebSocket `/ws/notifications/?token=<access JWT>`: checks the JWT (HS256, no database),
  accepts, sends `connection_established`, and subscribes the socket to the Redis pub/sub
  channel of its user (one Redis connection per process, a hand-rolled RESP reader).
- `POST /api/messages/` with a Bearer JWT and `{"receiver_id", "content"}`: publishes a
  `new_message` frame to the receiver's channel and answers 201. Nothing is stored.
- Any other HTTP request: 401 (the benchmark's readiness probe).

Run: `uvicorn bench.bare_server:app` with REDIS_URL and SECRET_KEY (bench.harness does).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import jwt

SECRET = os.environ.get("JWT_SIGNING_KEY") or os.environ.get("SECRET_KEY", "")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1")
PREFIX = os.environ.get("CHANNEL_LAYER_PREFIX", "bare")
_ids = itertools.count(1)


def _user_id(token: str | None) -> int | None:
    if not token:
        return None
    try:
        claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    if claims.get("token_type") != "access":
        return None
    return int(claims["user_id"])


def _channel(user_id: int) -> bytes:
    return f"{PREFIX}.user.{user_id}".encode()


def _command(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class Hub:
    """One subscriber connection per process; sockets registered per user."""

    def __init__(self) -> None:
        self.sockets: dict[bytes, set] = {}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.publisher: asyncio.StreamWriter | None = None
        self._publisher_reader: asyncio.StreamReader | None = None
        self._lock = asyncio.Lock()

    async def _ensure(self) -> None:
        if self.writer is not None:
            return
        async with self._lock:
            if self.writer is not None:
                return
            url = urlparse(REDIS_URL)
            host, port = url.hostname or "127.0.0.1", url.port or 6379
            reader, writer = await asyncio.open_connection(host, port)
            self._publisher_reader, self.publisher = await asyncio.open_connection(host, port)
            self.reader, self.writer = reader, writer
            asyncio.get_running_loop().create_task(self._read_loop())
            asyncio.get_running_loop().create_task(self._drain_publish_replies())

    async def _read_line(self) -> bytes:
        return (await self.reader.readline())[:-2]

    async def _read_value(self):
        line = await self._read_line()
        kind, rest = line[:1], line[1:]
        if kind == b"*":
            return [await self._read_value() for _ in range(int(rest))]
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            return (await self.reader.readexactly(n + 2))[:-2]
        return rest

    async def _read_loop(self) -> None:
        while True:
            value = await self._read_value()
            if isinstance(value, list) and value and value[0] == b"message":
                channel, payload = value[1], value[2].decode()
                for send in list(self.sockets.get(channel, ())):
                    try:
                        await send({"type": "websocket.send", "text": payload})
                    except Exception:
                        pass

    async def _drain_publish_replies(self) -> None:
        while True:
            line = await self._publisher_reader.readline()
            if not line:
                return

    async def subscribe(self, user_id: int, send) -> None:
        await self._ensure()
        channel = _channel(user_id)
        members = self.sockets.setdefault(channel, set())
        members.add(send)
        if len(members) == 1:
            self.writer.write(_command(b"SUBSCRIBE", channel))

    def unsubscribe(self, user_id: int, send) -> None:
        channel = _channel(user_id)
        members = self.sockets.get(channel)
        if members is None:
            return
        members.discard(send)
        if not members:
            del self.sockets[channel]
            self.writer.write(_command(b"UNSUBSCRIBE", channel))

    async def publish(self, user_id: int, text: str) -> None:
        await self._ensure()
        self.publisher.write(_command(b"PUBLISH", _channel(user_id), text.encode()))


hub = Hub()


async def _websocket(scope, receive, send) -> None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    user_id = _user_id((query.get("token") or [None])[-1])
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    if user_id is None:
        await send({"type": "websocket.close", "code": 4001})
        return
    await hub.subscribe(user_id, send)
    try:
        hello = {"type": "connection_established", "user_id": user_id, "last_event_id": 0}
        await send({"type": "websocket.send", "text": json.dumps(hello)})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") and '"ping"' in message["text"]:
                await send({"type": "websocket.send", "text": '{"type":"pong"}'})
    finally:
        hub.unsubscribe(user_id, send)


async def _respond(send, status: int, body: dict) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(raw)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


async def _http(scope, receive, send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = dict(scope["headers"])
    auth = headers.get(b"authorization", b"").decode("latin-1")
    sender = _user_id(auth[7:] if auth.startswith("Bearer ") else None)
    if sender is None:
        await _respond(send, 401, {"detail": "no credential", "code": "not_authenticated"})
        return
    if scope["method"] != "POST" or scope["path"] != "/api/messages/":
        await _respond(send, 404, {"detail": "not found", "code": "not_found"})
        return
    try:
        payload = json.loads(body)
        receiver, content = int(payload["receiver_id"]), str(payload["content"])
    except (ValueError, KeyError, TypeError):
        await _respond(send, 400, {"detail": "bad body", "code": "invalid"})
        return
    event_id = next(_ids)
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    message = {
        "id": event_id,
        "sender": {"id": sender},
        "receiver": {"id": receiver},
        "content": content,
        "is_read": False,
        "created_at": now,
    }
    frame = {"type": "new_message", "id": event_id, "created_at": now, "data": message}
    await hub.publish(receiver, json.dumps(frame, separators=(",", ":")))
    await _respond(send, 201, message)


async def app(scope, receive, send) -> None:
    if scope["type"] == "websocket":
        await _websocket(scope, receive, send)
    elif scope["type"] == "http":
        await _http(scope, receive, send)
