"""A server process under hostile clients, side by side with another checkout.

For each configuration:
- `/healthz` latency (one request every 50 ms) while idle, then while `--flooders` sockets
  each send WebSocket pings as fast as they can for `--seconds`, and how those sockets ended
  (the flooders run in a process of their own);
- the server's peak memory (VmHWM) before and after one client sends it a chunked body of
  `--body-mb` MB, and what it answered.

    python -m bench.hostile --configs daphne/pubsub@/tmp/base,daphne/pubsub --rounds 3
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import select
import socket
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from bench import common
from bench.harness import Harness


def flood(ws_url: str, tokens: list[str], seconds: float, results) -> None:
    async def one(token: str) -> str:
        import websockets

        try:
            async with websockets.connect(f"{ws_url}?token={token}", max_size=2**20) as ws:
                await ws.recv()  # connection_established
                deadline, sent = time.monotonic() + seconds, 0
                while time.monotonic() < deadline:
                    await ws.ping()
                    sent += 1
                    if sent % 50 == 0:
                        await asyncio.sleep(0)  # let the close frame in
                return f"open after {sent} pings"
        except websockets.ConnectionClosed as closed:
            return f"closed {closed.rcvd.code if closed.rcvd else 1006}"

    async def run() -> list[str]:
        return await asyncio.gather(*(one(token) for token in tokens))

    results.extend(asyncio.run(run()))


def healthz_latencies(url: str, seconds: float) -> list[float]:
    latencies, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            urllib.request.urlopen(url + "/healthz", timeout=10).read()
        except OSError:
            latencies.append(10_000.0)  # refused or timed out: counted as 10 s
        else:
            latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.05)
    return latencies


def measure(server, tokens: list[str], seconds: float) -> dict:
    idle = common.latency_summary(healthz_latencies(server.http_url, 2.0))
    with multiprocessing.Manager() as manager:
        ends = manager.list()
        flooders = multiprocessing.Process(
            target=flood, args=(server.ws_url, tokens, seconds, ends)
        )
        flooders.start()
        time.sleep(0.5)  # sockets open
        flooded = common.latency_summary(healthz_latencies(server.http_url, seconds - 1))
        flooders.join(seconds + 30)
        ends = list(ends)
    closed = sum(end == "closed 4008" for end in ends)
    return {
        "idle p50": idle["p50"],
        "idle p99": idle["p99"],
        "flood p50": flooded["p50"],
        "flood p99": flooded["p99"],
        "flood max": flooded["max"],
        "closed 4008": f"{closed}/{len(ends)}",
    }


def chunked_upload(server, token: str, megabytes: int) -> dict:
    """Sends a chunked body of `megabytes` MB (or until the server answers); the status line
    and how the peak memory of the server process grew."""
    url = urlsplit(server.http_url)
    before = _peak_rss_kb(server.pid)
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    answer = b""
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        head = (
            f"POST /api/messages/ HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        with contextlib.suppress(OSError):  # a server that stops reading may reset
            for _ in range(megabytes * 16):
                if select.select([sock], [], [], 0)[0]:
                    break  # answered early
                sock.sendall(chunk)
            else:
                sock.sendall(b"0\r\n\r\n")
            answer = sock.recv(4096)
    return {
        "answer": answer.split(b"\r\n")[0].decode(errors="replace") or "(none)",
        "peak MB grew": (_peak_rss_kb(server.pid) - before) / 1024,
    }


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1])
    return 0


async def run(args) -> list[dict]:
    harness = Harness(args, "hostile")
    rows = []
    try:
        await harness.setup(args.flooders)
        tokens = [user["token"] for user in harness.users]
        for round_number, config in harness.plan():
            servers, _ = await harness.start_servers(config)
            try:
                row = {"config": config, "round": round_number + 1}
                row.update(await asyncio.to_thread(measure, servers[0], tokens, args.seconds))
                row.update(
                    await asyncio.to_thread(chunked_upload, servers[0], tokens[0], args.body_mb)
                )
            finally:
                await harness.stop_servers(servers)
            common.log(row)
            rows.append(row)
    finally:
        harness.teardown()
    return rows


def main() -> None:
    parser = common.bench_parser("hostile", __doc__, configs="daphne/pubsub")
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--body-mb", type=int, default=150)
    args = parser.parse_args()
    rows = asyncio.run(run(args))
    columns = ["config", "round", "idle p50", "idle p99", "flood p50", "flood p99", "flood max"]
    common.print_table(
        rows,
        [*columns, "closed 4008", "answer", "peak MB grew"],
        f"/healthz latency in ms, idle and while {args.flooders} sockets flood pings for "
        f"{args.seconds} s; then a chunked body of {args.body_mb} MB.",
    )


if __name__ == "__main__":
    main()
