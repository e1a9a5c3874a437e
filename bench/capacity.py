"""Capacity: open sockets on one server process until a target (default 10,000); the server's
resident memory per socket, the connect rate (sockets a second, each credential checked: a
socket counts once `connection_established` arrived), connect latency, refusals and the
kernel's listen-queue overflows, per configuration side by side.

    .venv/bin/python -m bench.capacity                         # 10,000 sockets, 5 configs
    .venv/bin/python -m bench.capacity --target 2000 --configs daphne/core,daphne-bl/core
"""

from __future__ import annotations

import argparse
import asyncio

from bench import common
from bench.clients import ClientPool
from bench.common import fmt, log
from bench.harness import Harness, median_by_config

CONFIGS = "daphne/core,daphne-bl/core,daphne/pubsub,uvicorn/core,uvicorn/pubsub,bare"
COLUMNS = [
    "config",
    "sockets",
    "refused",
    "not tried",
    "connect/s",
    "connect p50",
    "connect p99",
    "connect max",
    "KB/socket",
    "server RSS MB",
    "listen overflows",
    "server ms/connect",
    "clients CPU %",
    "machine busy %",
]


def build_parser() -> argparse.ArgumentParser:
    parser = common.bench_parser("capacity", __doc__, CONFIGS)
    parser.set_defaults(workers=4)
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


async def measure(h: Harness, config: str) -> dict:
    args = h.args
    servers, _ = await h.start_servers(config)
    server = servers[0]
    warm = ClientPool(h.users[-20:], 1, urls=[server.ws_url])
    try:
        # Load every module a socket needs before the baseline reading.
        await warm.connect(20, urls=[server.ws_url])
        await warm.call("close")
        await asyncio.sleep(1.0)
        await h.pool.stats(reset=True)  # forget the previous configuration's closes
        rss0 = common.rss_kb(server.pid) if server.pid else 0
        net0 = common.netstat("ListenOverflows", "ListenDrops")
        meter = h.meter(servers)
        profiler = h.profiler(config, servers, "capacity")
        meter.start()
        result = await h.pool.connect(
            args.concurrency, urls=[server.ws_url], timeout=30, give_up_after=args.max_seconds
        )
        connect_cpu = meter.stop()
        profile = profiler.stop(now=True) if profiler else None
        await asyncio.sleep(args.hold)
        still_open = await h.pool.open_count()
        rss1 = common.rss_kb(server.pid) if server.pid else 0
        net1 = common.netstat("ListenOverflows", "ListenDrops")
        stats = await h.pool.stats()
    finally:
        warm.stop()
        await h.stop_servers(servers)
    lat = sorted(result["latencies_ms"])
    ok = result["ok"]
    wall = connect_cpu["wall s"]
    return {
        "config": config,
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


async def run(args) -> list[dict]:
    h = Harness(args, "capacity")
    rows = []
    try:
        await h.setup(args.target + 20)
        # The warm-up users are the last 20; the measured ones the first `target`.
        h.pool.stop()
        h.pool = ClientPool(h.users[: args.target], args.workers, urls=["ws://unset"])
        for round_index, config in h.plan():
            log(f"round {round_index + 1}: {config}: opening {args.target} sockets")
            row = await measure(h, config)
            rows.append(row)
            log(
                f"  {row['sockets']} open ({row['refused']} refused {row['failures']}), "
                f"{fmt(row['connect/s'])}/s, p99 {fmt(row['connect p99'])} ms, "
                f"{fmt(row['KB/socket'])} KB/socket, overflows {row['listen overflows']}"
            )
    finally:
        h.teardown()
    return rows


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    rows = asyncio.run(run(args))
    table = median_by_config(rows)
    note = f"(connect latencies in ms; CPU % of one core; medians over {args.rounds} round(s))"
    common.print_table(table, COLUMNS, note)
    common.print_json_and_profiles(args, rows, table, " while connecting")
    print(
        "SUMMARY capacity: "
        + "; ".join(
            f"{r['config']} {r['sockets']:g}/{args.target} sockets, {fmt(r['KB/socket'])} KB each,"
            f" {fmt(r['connect/s'], 0)} connects/s, p99 {fmt(r['connect p99'], 0)} ms"
            for r in table
        )
    )


if __name__ == "__main__":
    main()
