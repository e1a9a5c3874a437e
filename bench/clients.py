"""The load generator: worker processes that hold WebSocket clients (picows on uvloop) or send
REST messages (aiohttp), driven by the controlling script over a pipe.

A frame whose `data.content` is `"b <seq> <t_ns>"` is a benchmark event: `t_ns` is
CLOCK_MONOTONIC taken just before it was POSTed, shared by every process here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import random
import time
from multiprocessing.connection import Connection

now_ns = time.monotonic_ns

# --- WebSocket clients ----------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.seqs: list[int] = []
        self.lat_ns: list[int] = []
        self.frames = 0
        # `message_sent` frames: a sender's copy of its own benchmark message, not a delivery.
        self.echoes = 0
        self.out_of_order = 0
        self.closes: dict[int, int] = {}
        self.errors: dict[str, int] = {}
        self.not_recovered = 0
        self.replayed = 0


class Client:
    __slots__ = (
        "events",
        "last_event_id",
        "listener",
        "ready",
        "resuming",
        "stats",
        "token",
        "transport",
        "uid",
        "url",
    )

    def __init__(self, uid: int, token: str, url: str, stats: Stats) -> None:
        self.uid = uid
        self.token = token
        self.url = url
        self.stats = stats
        self.transport = None
        self.listener = None
        self.ready: asyncio.Future | None = None
        self.resuming = False
        self.last_event_id: int | None = None
        self.events: list[int] = []

    def on_text(self, text: str) -> None:
        stats = self.stats
        stats.frames += 1
        frame = json.loads(text)
        kind = frame.get("type")
        event_id = frame.get("id")
        if event_id is not None:
            if self.last_event_id is not None and event_id <= self.last_event_id:
                stats.out_of_order += 1
            else:
                self.last_event_id = event_id
            self.events.append(event_id)
            data = frame.get("data")
            content = data.get("content") if isinstance(data, dict) else None
            if kind == "message_sent":
                stats.echoes += 1
            elif content and content.startswith("b "):
                _, seq, sent = content.split(" ", 2)
                stats.seqs.append(int(seq))
                stats.lat_ns.append(now_ns() - int(sent))
        elif kind == "connection_established":
            if self.last_event_id is None:
                self.last_event_id = frame.get("last_event_id", 0)
            if not self.resuming:
                self._set_ready()
        elif kind == "replay_complete":
            stats.replayed += frame.get("count", 0)
            if frame.get("recovered") is False:
                stats.not_recovered += 1
            self._set_ready()

    def _set_ready(self) -> None:
        if self.ready is not None and not self.ready.done():
            self.ready.set_result(None)

    def on_closed(self, code: int | None) -> None:
        if code is not None:
            self.stats.closes[code] = self.stats.closes.get(code, 0) + 1
        self.transport = None
        if self.ready is not None and not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before ready ({code})"))


def _make_listener_class():
    from picows import WSListener, WSMsgType

    class Listener(WSListener):
        def __init__(self, client: Client) -> None:
            super().__init__()
            self.client = client
            self.parts: list[bytes] = []
            self.close_code: int | None = None

        def on_ws_frame(self, transport, frame) -> None:
            kind = frame.msg_type
            if kind == WSMsgType.TEXT:
                if frame.fin:
                    self.client.on_text(frame.get_payload_as_utf8_text())
                else:
                    self.parts = [frame.get_payload_as_bytes()]
            elif kind == WSMsgType.CONTINUATION:
                self.parts.append(frame.get_payload_as_bytes())
                if frame.fin:
                    self.client.on_text(b"".join(self.parts).decode())
                    self.parts = []
            elif kind == WSMsgType.CLOSE:
                self.close_code = int(frame.get_close_code())
                transport.send_close(frame.get_close_code())
                transport.disconnect()

        def on_ws_disconnected(self, transport) -> None:
            self.client.on_closed(self.close_code if self.close_code is not None else 1006)

    return Listener


class ClientWorker:
    """Holds many sockets; answers the controller's commands."""

    def __init__(self, users: list[dict], urls: list[str]) -> None:
        self.stats = Stats()
        self.urls = urls
        self.clients = [
            Client(u["id"], u["token"], urls[i % len(urls)], self.stats)
            for i, u in enumerate(users)
        ]
        self.Listener = _make_listener_class()

    async def _open(self, client: Client, resume: bool, timeout: float) -> float:
        from picows import ws_connect

        query = f"?token={client.token}"
        if not resume:
            client.last_event_id = None  # a fresh start: the server's newest id is the baseline
        client.resuming = resume and client.last_event_id is not None
        if client.resuming:
            query += f"&last_event_id={client.last_event_id}"
        loop = asyncio.get_running_loop()
        client.ready = loop.create_future()
        start = now_ns()
        transport, listener = await ws_connect(
            lambda: self.Listener(client),
            client.url + query,
            websocket_handshake_timeout=timeout,
            enable_auto_pong=True,
        )
        client.transport, client.listener = transport, listener
        await asyncio.wait_for(client.ready, timeout)
        return (now_ns() - start) / 1e6

    async def connect(
        self,
        concurrency: int,
        resume: bool = False,
        timeout: float = 30.0,
        retry_until: float = 0.0,
        urls: list[str] | None = None,
        give_up_after: float = 0.0,
    ) -> dict:
        """Open every socket not open (at most `concurrency` handshakes at once); with
        `retry_until` (seconds), retry failures with jittered backoff until then; with
        `give_up_after` (seconds), start no handshake after that (counted as not tried)."""
        give_up_at = time.monotonic() + give_up_after if give_up_after else float("inf")
        not_tried = 0
        if urls:
            for i, client in enumerate(self.clients):
                client.url = urls[i % len(urls)]
        semaphore = asyncio.Semaphore(concurrency)
        latencies: list[float] = []
        failures: dict[str, int] = {}
        attempts = 0
        deadline = time.monotonic() + retry_until
        start = now_ns()
        done_at: list[int] = []

        async def one(client: Client) -> None:
            nonlocal attempts
            nonlocal not_tried
            backoff = 0.1
            while True:
                async with semaphore:
                    if time.monotonic() > give_up_at:
                        not_tried += 1
                        return
                    attempts += 1
                    try:
                        latencies.append(await self._open(client, resume, timeout))
                        done_at.append(now_ns())
                        return
                    except Exception as error:
                        name = type(error).__name__
                        failures[name] = failures.get(name, 0) + 1
                        if client.transport is not None:
                            client.transport.disconnect(graceful=False)
                            client.transport = None
                if time.monotonic() + backoff > deadline:
                    return
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, 2.0)

        todo = [c for c in self.clients if c.transport is None]
        await asyncio.gather(*(one(c) for c in todo))
        return {
            "asked": len(todo),
            "ok": len(latencies),
            "attempts": attempts,
            "not_tried": not_tried,
            "failures": failures,
            "latencies_ms": latencies,
            "start_ns": start,
            "last_ns": max(done_at) if done_at else start,
        }

    async def open_count(self) -> dict:
        return {"open": sum(1 for c in self.clients if c.transport is not None)}

    async def drop(self) -> dict:
        """Every socket vanishes at once (TCP abort, no close frame), as a network drop."""
        dropped = 0
        for client in self.clients:
            if client.transport is not None:
                client.listener.close_code = None
                client.transport.disconnect(graceful=False)
                dropped += 1
        await asyncio.sleep(0)
        return {"dropped": dropped}

    async def close(self) -> dict:
        for client in self.clients:
            if client.transport is not None:
                with contextlib.suppress(Exception):
                    client.transport.send_close()
                    client.transport.disconnect()
        await asyncio.sleep(0.2)
        return {}

    async def take_stats(self, reset: bool = True, events: bool = False) -> dict:
        s = self.stats
        out = {
            "seqs": s.seqs,
            "lat_ns": s.lat_ns,
            "frames": s.frames,
            "echoes": s.echoes,
            "out_of_order": s.out_of_order,
            "closes": s.closes,
            "not_recovered": s.not_recovered,
            "replayed": s.replayed,
        }
        if events:
            out["events"] = {c.uid: c.events for c in self.clients}
        if reset:
            s.reset()
            if events:
                for c in self.clients:
                    c.events = []
        return out


# --- REST sender ----------------------------------------------------------------------------


class SenderWorker:
    """Sends messages over REST at a fixed rate (open loop: a slow server does not slow the
    schedule), each with its send time in the content."""

    def __init__(self, users: list[dict], urls: list[str]) -> None:
        self.urls = urls
        # Every user sends to its friend.
        self.pairs = [(u["token"], u["friend"]) for u in users if u["friend"] is not None]
        self.session = None

    async def run(
        self,
        rate: float,
        duration: float,
        seq0: int,
        urls: list[str] | None = None,
        max_in_flight: int = 512,
    ) -> dict:
        import aiohttp

        urls = urls or self.urls
        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=max_in_flight, force_close=False),
                timeout=aiohttp.ClientTimeout(total=30),
            )
        session = self.session
        count = int(rate * duration)
        records: list[tuple] = []
        errors: dict[str, int] = {}
        in_flight = asyncio.Semaphore(max_in_flight)
        rng = random.Random(seq0)

        async def post(seq: int, url: str, token: str, receiver: int) -> None:
            async with in_flight:
                sent = now_ns()
                body = {"receiver_id": receiver, "content": f"b {seq} {sent}"}
                try:
                    async with session.post(
                        url, json=body, headers={"Authorization": f"Bearer {token}"}
                    ) as response:
                        await response.read()
                        status = response.status
                except Exception as error:
                    errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                    status = 0
                records.append((seq, receiver, status, sent, now_ns()))

        tasks = []
        start = time.monotonic() + 0.05
        late = 0.0
        for i in range(count):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late = max(late, -delay)
            token, receiver = self.pairs[rng.randrange(len(self.pairs))]
            url = urls[i % len(urls)] + "/api/messages/"
            tasks.append(asyncio.create_task(post(seq0 + i, url, token, receiver)))
        sent_span = time.monotonic() - start
        await asyncio.gather(*tasks)
        return {
            "records": records,
            "errors": errors,
            "send_span_s": sent_span,
            "max_late_s": late,
        }

    async def close(self) -> dict:
        if self.session is not None:
            await self.session.close()
        return {}


# --- worker processes -----------------------------------------------------------------------


def _worker_main(conn: Connection, role: str, users: list[dict], urls: list[str]) -> None:
    import resource

    import uvloop

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def main() -> None:
        worker = ClientWorker(users, urls) if role == "clients" else SenderWorker(users, urls)
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        tasks: set[asyncio.Task] = set()

        async def handle(command: str, kwargs: dict) -> None:
            try:
                if command == "exit":
                    await worker.close()
                    result: object = {}
                    stop.set_result(None)
                elif command == "cpu":
                    result = {"cpu_s": time.process_time()}
                else:
                    result = await getattr(worker, command)(**kwargs)
                conn.send(("ok", result))
            except Exception as error:
                conn.send(("error", f"{type(error).__name__}: {error}"))

        def readable() -> None:
            try:
                command, kwargs = conn.recv()
            except EOFError:
                loop.remove_reader(conn.fileno())
                if not stop.done():
                    stop.set_result(None)
                return
            task = asyncio.ensure_future(handle(command, kwargs))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        loop.add_reader(conn.fileno(), readable)
        await stop

    uvloop.run(main())


class Worker:
    """The controller's handle on one worker process."""

    def __init__(self, role: str, users: list[dict], urls: list[str]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, role, users, urls))
        self.process.start()
        child.close()
        self.role = role

    @property
    def pid(self) -> int:
        return self.process.pid

    async def call(self, command: str, **kwargs) -> dict:
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def readable() -> None:
            loop.remove_reader(self.conn.fileno())
            try:
                future.set_result(self.conn.recv())
            except Exception as error:
                future.set_exception(error)

        self.conn.send((command, kwargs))
        loop.add_reader(self.conn.fileno(), readable)
        status, result = await future
        if status != "ok":
            raise RuntimeError(f"{self.role} worker: {result}")
        return result

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(("exit", {}))
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class ClientPool:
    """Users spread over `n` client processes."""

    def __init__(self, users: list[dict], n: int, urls: list[str]) -> None:
        self.workers = [Worker("clients", users[i::n], urls) for i in range(n)]

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self.workers]

    async def call(self, command: str, **kwargs) -> list[dict]:
        return await asyncio.gather(*(w.call(command, **kwargs) for w in self.workers))

    async def connect(self, concurrency: int, **kwargs) -> dict:
        per = max(1, concurrency // len(self.workers))
        results = await self.call("connect", concurrency=per, **kwargs)
        failures: dict[str, int] = {}
        for r in results:
            for k, v in r["failures"].items():
                failures[k] = failures.get(k, 0) + v
        start = min(r["start_ns"] for r in results)
        last = max(r["last_ns"] for r in results)
        return {
            "asked": sum(r["asked"] for r in results),
            "ok": sum(r["ok"] for r in results),
            "attempts": sum(r["attempts"] for r in results),
            "not_tried": sum(r["not_tried"] for r in results),
            "failures": failures,
            "latencies_ms": [x for r in results for x in r["latencies_ms"]],
            "elapsed_s": (last - start) / 1e9,
        }

    async def stats(self, reset: bool = True, events: bool = False) -> dict:
        results = await self.call("take_stats", reset=reset, events=events)
        merged: dict = {
            "seqs": [],
            "lat_ns": [],
            "frames": 0,
            "echoes": 0,
            "out_of_order": 0,
            "closes": {},
            "not_recovered": 0,
            "replayed": 0,
            "events": {},
        }
        for r in results:
            merged["seqs"] += r["seqs"]
            merged["lat_ns"] += r["lat_ns"]
            for key in ("frames", "echoes", "out_of_order", "not_recovered", "replayed"):
                merged[key] += r[key]
            for code, n in r["closes"].items():
                merged["closes"][code] = merged["closes"].get(code, 0) + n
            merged["events"].update(r.get("events", {}))
        return merged

    async def open_count(self) -> int:
        return sum(r["open"] for r in await self.call("open_count"))

    def stop(self) -> None:
        for w in self.workers:
            w.stop()
