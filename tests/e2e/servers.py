"""Real servers for end-to-end tests and benchmarks: Daphne and Redis processes on free
loopback ports, a REST client and a WebSocket client that speak to them over real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import websockets

BASE_DIR = Path(__file__).resolve().parents[2]
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_env(settings_dict: dict) -> dict[str, str]:
    """Environment that points a server process at the test database this process uses."""
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        return {"DATABASE_URL": "", "SQLITE_PATH": str(settings_dict["NAME"])}
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return {"DATABASE_URL": f"postgres://{credentials}{host}:{port}/{settings_dict['NAME']}"}


class DaphneServer:
    """One server process on a free loopback port: Daphne serving numeneon.asgi as the Procfile
    runs it, from `cwd` (another checkout's code, for bench's side by side runs), its output in
    a log file. Subclasses change only the command."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, cwd: Path = BASE_DIR) -> None:
        self.name = name
        self.env = env
        self.cwd = cwd
        self.log_path = log_dir / f"{name}.log"
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def socket_url(self) -> str:
        return f"{self.ws_url}/ws/notifications/"

    @property
    def pid(self) -> int:
        return self.process.pid

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "numeneon.server",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            "numeneon.asgi:application",
        ]

    def start(self, timeout: float = 30.0) -> DaphneServer:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log()}")
            # Ready once the application itself answers: a request without a token gets 401.
            try:
                urllib.request.urlopen(self.http_url + "/api/auth/me/", timeout=2)
            except urllib.error.HTTPError as error:
                if error.code == 401:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not start in {timeout}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Api:
    """A tiny REST client over urllib: (status, decoded JSON body or None)."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token

    def request(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, (json.loads(raw) if raw else None)

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, body: dict | None = None):
        return self.request("POST", path, body)

    def delete(self, path: str):
        return self.request("DELETE", path)

    async def apost(self, path: str, body: dict | None = None):
        return await asyncio.to_thread(self.post, path, body)


class Person:
    """A user signed up through the server, with their token and a REST client."""

    def __init__(self, server: DaphneServer, username: str) -> None:
        password = f"{username}-long-password-7"
        status, body = Api(server.http_url).post(
            "/api/auth/signup/",
            {"username": username, "email": f"{username}@example.com", "password": password},
        )
        assert status == 201, body
        self.id: int = body["user"]["id"]
        self.username = username
        self.summary = {
            key: body["user"][key] for key in ("id", "username", "first_name", "last_name")
        }
        self.token: str = body["access"]
        self.refresh: str = body["refresh"]
        self.api = Api(server.http_url, self.token)

    def socket(self, server: DaphneServer, **params: object) -> Socket:
        query = "&".join(f"{key}={value}" for key, value in {"token": self.token, **params}.items())
        return Socket(f"{server.ws_url}/ws/notifications/?{query}")


class Socket:
    """A WebSocket client that reads JSON frames with a deadline."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws = None

    async def __aenter__(self) -> Socket:
        self.ws = await websockets.connect(self.url, open_timeout=10, max_size=2**20)
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.ws.close()

    async def receive(self, timeout: float = 5.0) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def receive_type(self, frame_type: str, timeout: float = 5.0) -> dict:
        frame = await self.receive(timeout)
        assert frame["type"] == frame_type, frame
        return frame

    async def nothing_within(self, seconds: float) -> bool:
        try:
            frame = await asyncio.wait_for(self.ws.recv(), seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"expected no frame, got {frame}")

    async def send(self, frame: dict | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def close_code(self, timeout: float = 5.0) -> int:
        """Wait for the server to close the socket; its close code."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), timeout)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 1006


class RedisServer:
    """A redis-server of the caller's own on a free port, to stop and start at will: nothing
    else on the machine shares its data or its CPU."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        import redis

        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--logfile", str(self.log_path),
                "--maxclients", "20000",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def befriend(a: Person, b: Person) -> None:
    status, sent = await a.api.apost(f"/api/friends/request/{b.id}/")
    assert status == 201, sent
    status, accepted = await b.api.apost(f"/api/friends/accept/{sent['request']['id']}/")
    assert status == 201, accepted


def stored_event_ids(person: Person, event_type: str | None = None) -> list[int]:
    """Every event stored for `person`, read back over REST, oldest first."""
    ids, after = [], 0
    while True:
        status, page = person.api.get(f"/api/notifications/?after={after}&limit=200")
        assert status == 200, page
        if not page:
            return ids
        ids += [e["id"] for e in page if event_type is None or e["type"] == event_type]
        after = page[-1]["id"]


# What a reconnecting client shrugs off: a refused or failed handshake, a dropped socket.
RECONNECTABLE = (OSError, websockets.InvalidHandshake, websockets.ConnectionClosed, TimeoutError)


class ResumingClient:
    """A client that keeps a socket open, and on any close reconnects with last_event_id,
    as the contract asks of every client. Records every event frame it is sent."""

    def __init__(self, person: Person, server: DaphneServer) -> None:
        self.person = person
        self.server = server
        self.events: list[dict] = []
        self.close_codes: list[int] = []
        self.connects = 0
        self.replayed = 0
        self.baseline = 0
        self._stop = asyncio.Event()
        self._live = asyncio.Event()

    @property
    def last_event_id(self) -> int:
        return self.events[-1]["id"] if self.events else self.baseline

    async def run(self) -> None:
        while not self._stop.is_set():
            params = {"last_event_id": self.last_event_id} if self.connects else {}
            try:
                async with self.person.socket(self.server, **params) as ws:
                    self.connects += 1
                    await self._read(ws)
            except (
                OSError,
                websockets.InvalidHandshake,
                websockets.ConnectionClosed,
                TimeoutError,
            ):
                await asyncio.sleep(0.1)

    async def _read(self, ws: Socket) -> None:
        hello = await ws.receive_type("connection_established")
        if self.connects == 1:
            self.baseline = hello["last_event_id"]
        self._live.set()
        while not self._stop.is_set():
            try:
                message = await asyncio.wait_for(ws.ws.recv(), 0.2)
            except TimeoutError:
                continue
            except websockets.ConnectionClosed as closed:
                self.close_codes.append(closed.rcvd.code if closed.rcvd else 1006)
                return
            frame = json.loads(message)
            if frame["type"] == "replay_complete":
                self.replayed += frame["count"]
                assert frame.get("recovered", True), frame
            elif "id" in frame:
                self.events.append(frame)

    async def wait_live(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._live.wait(), timeout)

    def stop(self) -> None:
        self._stop.set()
