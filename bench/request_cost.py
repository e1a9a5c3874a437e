"""Cost of one REST call inside the server process, without the network: the ASGI application
called in this process, one request after another, CPU and wall time per request.

    .venv/bin/python -m bench.request_cost                       # POST /api/messages/, 2,000
    .venv/bin/python -m bench.request_cost --path /api/auth/me/ --method GET
    .venv/bin/python -m bench.request_cost --profile 30          # cProfile, top 30 by self time

This isolates the Django side of the message path (middleware, auth, view, ORM, commit, the
push to the channel layer) from the HTTP server and the WebSocket delivery that
bench.latency measures end to end. Runs on the bench database and a Redis of its own.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import log, reset_events, script_parser, seed_users, setup_django
from tests.e2e.servers import RedisServer
from tests.helpers import http_scope


async def call(app, method: str, path: str, token: str, body: bytes) -> tuple[int, bytes]:
    scope = http_scope(method, path, token, body, host="127.0.0.1")
    sent = False
    disconnect = asyncio.Event()

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    status = 0
    chunks = []

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    disconnect.set()
    return status, b"".join(chunks)


async def run(args, users) -> tuple[list[float], list[float]]:
    from numeneon.asgi import application

    sender, receiver = users[0], users[1]
    body = json.dumps({"receiver_id": receiver["id"], "content": "bench"}).encode()
    if args.method == "GET":
        body = b""
    cpu, wall = [], []
    for i in range(args.warmup + args.requests):
        c0, w0 = time.process_time(), time.perf_counter()
        status, out = await call(application, args.method, args.path, sender["token"], body)
        c1, w1 = time.process_time(), time.perf_counter()
        if status >= 400:
            raise SystemExit(f"{args.method} {args.path} -> {status}: {out[:300]!r}")
        if i >= args.warmup:
            cpu.append((c1 - c0) * 1000)
            wall.append((w1 - w0) * 1000)
    return cpu, wall


def main() -> None:
    parser = script_parser("request_cost", __doc__)
    parser.add_argument("--redis-url", help="default: a redis-server of the script's own")
    parser.add_argument("--layer", default="pubsub", choices=["pubsub", "core"])
    parser.add_argument("--method", default="POST")
    parser.add_argument("--path", default="/api/messages/")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile; print the top N")
    args = parser.parse_args()

    redis = None
    redis_url = args.redis_url
    if not redis_url:
        redis = RedisServer(Path(tempfile.mkdtemp(prefix="bench-cost-"))).start()
        redis_url = redis.url
    # One sender, thousands of requests: lift its per-user rate, keep the throttle's work.
    os.environ["THROTTLE_MESSAGE_SEND"] = "100000000/minute"
    try:
        setup_django(args.db_url, redis_url, args.layer)
        users = seed_users(2)
        reset_events()
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        cpu, wall = asyncio.run(run(args, users))
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
    finally:
        if redis:
            redis.stop()
    log(
        f"SUMMARY request_cost: {args.method} {args.path} x{len(cpu)} layer={args.layer}: "
        f"CPU median {statistics.median(cpu):.2f} ms, wall median {statistics.median(wall):.2f} "
        f"ms, p99 wall {sorted(wall)[int(len(wall) * 0.99)]:.2f} ms"
    )


if __name__ == "__main__":
    main()
