"""Latency: N connected clients, messages sent over REST at a fixed rate between friends; the
time from just before the POST to the receiver's `new_message` frame (p50, p90, p99, max), lost
and duplicated events, and the CPU of every process involved, per configuration side by side.

    .venv/bin/python -m bench.latency            # 1,000 clients, 100 msg/s, Daphne, Uvicorn, bare
    .venv/bin/python -m bench.latency --rates 400 --procs 1,2 --configs daphne/pubsub
    .venv/bin/python -m bench.latency --rounds 10 --configs daphne/pubsub@/tmp/base,daphne/pubsub
"""

from __future__ import annotations

import argparse
import asyncio
import collections

from bench import common, harness
from bench.common import log
from bench.harness import Config, Harness


def build_parser() -> argparse.ArgumentParser:
    parser = harness.parser("latency", __doc__, "daphne/pubsub,uvicorn/pubsub,bare")
    parser.add_argument("--clients", type=int, default=1000, help="default: %(default)s")
    parser.add_argument(
        "--rates", default="100", help="messages a second, comma-separated (default: %(default)s)"
    )
    parser.add_argument(
        "--procs", default="1", help="server processes, comma-separated (default: %(default)s)"
    )
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument(
        "--idle", type=float, default=3.0, help="seconds of no traffic, to read the idle CPU"
    )
    parser.add_argument("--connect-concurrency", type=int, default=200)
    return parser


async def measure(h: Harness, config: Config, procs: int, rate: float) -> dict:
    args = h.args
    await asyncio.to_thread(common.reset_events)
    servers, _ = await h.start_servers(config, procs)
    pool, sender = h.pool, h.sender
    try:
        ws_urls = [s.socket_url for s in servers]
        http_urls = [s.http_url for s in servers]
        connected = await pool.connect(args.connect_concurrency, urls=ws_urls, timeout=30)
        if connected["ok"] < connected["asked"]:
            log(f"  {connected['asked'] - connected['ok']} sockets failed: ", connected["failures"])
        await sender.call(
            "run", rate=rate, duration=args.warmup, seq0=h.seqs(rate * 60), urls=http_urls
        )
        await asyncio.sleep(0.5)
        await pool.stats(reset=True)

        # What the open sockets cost with no traffic, to tell it apart from the per message cost.
        idle = common.CpuMeter({"server": [s.pid for s in servers]}, with_postgres=False)
        idle.start()
        await asyncio.sleep(args.idle)
        idle_cpu = idle.stop()
        meter = h.meter(servers)
        profiler = h.profiler(config, servers, f"post-{rate:g}", args.duration)
        meter.start()
        seq0 = h.seqs(rate * (args.duration + 10))
        sent = await sender.call(
            "run", rate=rate, duration=args.duration, seq0=seq0, urls=http_urls
        )
        expected = {r[0]: r[1] for r in sent["records"] if r[2] == 201}
        # Drain: wait until every accepted message arrived, 10 s at most.
        stats = None
        for _ in range(100):
            stats = await pool.stats(reset=False)
            if len(set(stats["seqs"]) & expected.keys()) >= len(expected):
                break
            await asyncio.sleep(0.1)
        cpu = meter.stop()
        stats = await pool.stats(reset=True)
        profile = profiler.stop() if profiler else None
        still_open = await pool.open_count()
    finally:
        await h.stop_servers(servers)

    counts = collections.Counter(stats["seqs"])
    lat_ms = [
        lat / 1e6
        for seq, lat in zip(stats["seqs"], stats["lat_ns"], strict=True)
        if seq in expected
    ]
    received = sum(1 for seq in expected if counts[seq])
    lost = len(expected) - received
    dup = sum(n - 1 for seq, n in counts.items() if seq in expected and n > 1)
    statuses = collections.Counter(r[2] for r in sent["records"])
    post_ms = sorted((r[4] - r[3]) / 1e6 for r in sent["records"])
    wall = cpu["wall s"]
    summary = common.latency_summary(lat_ms)
    achieved = len(sent["records"]) / sent["send_span_s"] if sent["send_span_s"] else 0.0
    ok_records = [r for r in sent["records"] if r[2] == 201]
    served_span = (
        (max(r[4] for r in ok_records) - min(r[3] for r in ok_records)) / 1e9 if ok_records else 0
    )
    row = {
        "config": config.name,
        "procs": procs,
        "rate": rate,
        "achieved rate": achieved,
        "served/s": len(ok_records) / served_span if served_span else 0.0,
        "sent": len(expected),
        "post errors": len(sent["records"]) - len(expected),
        "statuses": dict(statuses),
        "send errors": sent["errors"],
        "lost": lost,
        "dup": dup,
        "echoes": stats["echoes"],
        "out of order": stats["out_of_order"],
        **{k: summary[k] for k in ("p50", "p90", "p99", "max")},
        "post p50": common.percentile(post_ms, 50),
        "post p99": common.percentile(post_ms, 99),
        "server CPU %": 100 * cpu["server"] / wall,
        "server idle CPU %": 100 * idle_cpu["server"] / idle_cpu["wall s"],
        "server ms/msg": 1000 * cpu["server"] / max(received, 1),
        "clients CPU %": 100 * cpu["clients"] / wall,
        "sender CPU %": 100 * cpu["sender"] / wall,
        "redis CPU %": 100 * cpu.get("redis", 0.0) / wall,
        "postgres* CPU %": 100 * cpu["postgres*"] / wall,
        "machine busy %": cpu["machine busy %"],
        "sockets": connected["ok"],
        "sockets still open": still_open,
        "closes": stats["closes"],
        "max sender lateness s": sent["max_late_s"],
        "profile": profile,
    }
    row["keeps up"] = (
        "yes"
        if lost == 0
        and row["post errors"] == 0
        and achieved >= 0.95 * rate
        and summary["p99"] < 500
        and connected["ok"] == connected["asked"]
        else "no"
    )
    return row


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    cases = [(p, r) for r in rates for p in map(int, args.procs.split(","))]
    brief = ["sent", "lost", "dup", "p50", "p99", "server ms/msg", "server CPU %", "machine busy %"]
    rows = asyncio.run(
        harness.run(args, "latency", measure, args.clients, cases, brief, sender=True)
    )
    table = harness.medians(rows, key=("config", "procs", "rate"), sums=("sent", "lost", "dup"))
    harness.report(
        args,
        rows,
        table,
        "latencies in ms; CPU % of one core",
        columns=(
            "config | procs | rate | served/s | sent | lost | dup | echoes | p50 | p90 | p99 | "
            "max | post p50 | server ms/msg | server CPU % | server idle CPU % | clients CPU % | "
            "sender CPU % | redis CPU % | machine busy % | keeps up"
        ),
    )


if __name__ == "__main__":
    main()
