"""How a server process serves everyone else while a few sockets flood it with pings.

For each configuration: `/healthz` latency (one request every 50 ms) while idle, then while
`--flooders` sockets each send WebSocket pings as fast as they can for `--seconds`, and how
those sockets ended. The flooders run in a process of their own.

    python -m bench.ping_flood --configs daphne/pubsub@/tmp/base,daphne/pubsub --rounds 3
"""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import common


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


def main() -> None:
    parser = common.bench_parser("ping_flood", __doc__, configs="daphne/pubsub")
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-ping-flood-"))
    redis = None if args.redis_url else common.RedisProc(log_dir).start()
    redis_url = args.redis_url or redis.url
    try:
        common.setup_django(args.db_url, redis_url)
        tokens = [user["token"] for user in common.seed_users(args.flooders)]
        table = []
        for round_number in range(args.rounds):
            for config in args.configs.split(","):
                kind, layer = common.parse_config(config)
                env = {
                    **common.server_env(args.db_url, redis_url, layer, common.new_prefix()),
                    **common.config_env(config),
                }
                server = common.Server(kind, env, log_dir, cwd=common.code_dir(config)).start()
                try:
                    row = {"config": config, "round": round_number + 1}
                    row.update(measure(server, tokens, args.seconds))
                finally:
                    server.stop()
                common.log(row)
                table.append(row)
    finally:
        if redis is not None:
            redis.stop()
    columns = ["config", "round", "idle p50", "idle p99", "flood p50", "flood p99"]
    common.print_table(
        table,
        [*columns, "flood max", "closed 4008"],
        f"/healthz latency in ms; {args.flooders} sockets flooding pings for {args.seconds} s.",
    )


if __name__ == "__main__":
    main()
