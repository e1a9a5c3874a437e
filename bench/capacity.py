"""Capacity: open sockets on one server process until a target (default 10,000); the server's
resident memory per socket, the connect rate (sockets a second, each credential checked: a
socket counts once `connection_established` arrived), connect latency, refusals and the
kernel's listen-queue overflows, per configuration side by side.

    .venv/bin/python -m bench.capacity             # 10,000 sockets, Daphne, Uvicorn, bare
    .venv/bin/python -m bench.capacity --target 2000 --configs daphne/pubsub@/tmp/base,daphne/pubsub
"""

from __future__ import annotations

import argparse
import asyncio

from bench import common, harness
from bench.clients import ClientPool
from bench.harness import Config, Harness


def build_parser() -> argparse.ArgumentParser:
    parser = harness.parser("capacity", __doc__, "daphne/pubsub,uvicorn/pubsub,bare", workers=4)
    parser.add_argument("--target", type=int, default=10000, help="default: %(default)s")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=500,
        help="handshakes in flight at once, over all client processes (default: %(default)s)",
    )
    parser.add_argument("--hold", type=float, default=3.0, help="seconds to hold them open")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="start no handshake after this long: a server slower than target/max-seconds "
        "misses the target anyway (default: %(default)s)",
    )
    return parser


async def measure(h: Harness, config: Config) -> dict:
    args = h.args
    servers, _ = await h.start_servers(config)
    server = servers[0]
    warm = ClientPool(h.users[-20:], 1, urls=[server.socket_url])
    try:
        # Load every module a socket needs before the baseline reading.
        await warm.connect(20, urls=[server.socket_url])
        await warm.call("close")
        await asyncio.sleep(1.0)
        await h.pool.stats(reset=True)  # forget the previous configuration's closes
        rss0 = common.rss_kb(server.pid)
        net0 = common.netstat("ListenOverflows", "ListenDrops")
        meter = h.meter(servers)
        profiler = h.profiler(config, servers, "capacity")
        meter.start()
        result = await h.pool.connect(
            args.concurrency, urls=[server.socket_url], timeout=30, give_up_after=args.max_seconds
        )
        connect_cpu = meter.stop()
        profile = profiler.stop(now=True) if profiler else None
        await asyncio.sleep(args.hold)
        still_open = await h.pool.open_count()
        rss1 = common.rss_kb(server.pid)
        net1 = common.netstat("ListenOverflows", "ListenDrops")
        stats = await h.pool.stats()
    finally:
        warm.stop()
        await h.stop_servers(servers)
    lat = sorted(result["latencies_ms"])
    ok = result["ok"]
    wall = connect_cpu["wall s"]
    return {
        "config": config.name,
        "asked": result["asked"],
        "sockets": ok,
        "refused": result["attempts"] - ok,
        "not tried": result["not_tried"],
        "failures": result["failures"],
        "still open after hold": still_open,
        "closes": stats["closes"],
        "connect/s": ok / result["elapsed_s"] if result["elapsed_s"] else 0.0,
        "connect p50": common.percentile(lat, 50),
        "connect p99": common.percentile(lat, 99),
        "connect max": lat[-1] if lat else float("nan"),
        "KB/socket": (rss1 - rss0) / ok if ok else float("nan"),
        "server RSS MB": rss1 / 1024,
        "listen overflows": net1.get("ListenOverflows", 0) - net0.get("ListenOverflows", 0),
        "server ms/connect": 1000 * connect_cpu["server"] / max(ok, 1),
        "server CPU %": 100 * connect_cpu["server"] / wall,
        "clients CPU %": 100 * connect_cpu["clients"] / wall,
        "postgres* CPU %": 100 * connect_cpu["postgres*"] / wall,
        "redis CPU %": 100 * connect_cpu.get("redis", 0.0) / wall,
        "machine busy %": connect_cpu["machine busy %"],
        "profile": profile,
    }


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    brief = ["sockets", "refused", "connect/s", "connect p99", "KB/socket", "listen overflows"]
    # The measured users are the first `target`; the last 20 warm each server up.
    users, clients = args.target + 20, args.target
    rows = asyncio.run(harness.run(args, "capacity", measure, users, brief=brief, clients=clients))
    note = "connect latencies in ms; CPU % of one core"
    harness.report(
        args,
        rows,
        harness.medians(rows),
        note,
        columns=(
            "config | sockets | refused | not tried | connect/s | connect p50 | connect p99 | "
            "connect max | KB/socket | server RSS MB | listen overflows | server ms/connect | "
            "clients CPU % | machine busy %"
        ),
    )


if __name__ == "__main__":
    main()
