"""Latency: N connected clients, messages sent over REST at a fixed rate between friends; the
time from just before the POST to the receiver's `new_message` frame (p50, p90, p99, max), lost
and duplicated events, and the CPU of every process involved, per configuration side by side.

    .venv/bin/python -m bench.latency                       # 1,000 clients, 100 msg/s, 5 configs
    .venv/bin/python -m bench.latency --rates 400 --procs 1,2 --configs daphne/core
    .venv/bin/python -m bench.latency --url http://127.0.0.1:8000 --server-pid 1234
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import tempfile
from pathlib import Path

from bench import common
from bench.clients import ClientPool, Worker
from bench.common import fmt, log
from numeneon.server import raise_descriptor_limit

TABLE_COLUMNS = [
    "config",
    "procs",
    "rate",
    "served/s",
    "sent",
    "lost",
    "dup",
    "echoes",
    "p50",
    "p90",
    "p99",
    "max",
    "post p50",
    "server ms/msg",
    "server CPU %",
    "server idle CPU %",
    "clients CPU %",
    "sender CPU %",
    "redis CPU %",
    "machine busy %",
    "keeps up",
]


def build_parser() -> argparse.ArgumentParser:
    parser = common.bench_parser("latency", __doc__)
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
    parser.add_argument(
        "--split",
        action="store_true",
        help="with --procs 2 or more: every socket on the first process, every POST on the "
        "others (WebSocket and REST served by different processes)",
    )
    parser.add_argument("--plot", help="write the latency distributions to this PNG")
    return parser


async def measure_one(ctx, config: str, procs: int, rate: float) -> dict:
    args = ctx.args
    kind, layer = common.parse_config(config) if not args.url else ("given", "-")
    await asyncio.to_thread(common.reset_events)
    prefix = common.new_prefix()
    if args.url:
        servers = [common.GivenServer(args.url, args.server_pid)]
    else:
        env = common.server_env(args.db_url, ctx.redis_url, layer, prefix)
        env.update(common.config_env(config))
        servers = [
            common.Server(
                kind, env, ctx.log_dir, name=f"{kind}-{layer}-{i}", cwd=common.code_dir(config)
            )
            for i in range(procs)
        ]
        for server in servers:
            await asyncio.to_thread(server.start)
    pool, sender = ctx.pool, ctx.sender
    try:
        ws_urls = [s.ws_url for s in servers]
        http_urls = [s.http_url for s in servers]
        if args.split and len(servers) > 1:
            # Sockets on the first process only, REST on the others: push crosses Redis.
            ws_urls, http_urls = ws_urls[:1], http_urls[1:]
        connected = await pool.connect(args.connect_concurrency, urls=ws_urls, timeout=30)
        if connected["ok"] < connected["asked"]:
            log(f"  {connected['asked'] - connected['ok']} sockets failed: ", connected["failures"])
        await sender.call(
            "run", rate=rate, duration=args.warmup, seq0=ctx.next_seq(rate * 60), urls=http_urls
        )
        await asyncio.sleep(0.5)
        await pool.stats(reset=True)

        server_pids = [s.pid for s in servers if s.pid]
        # What the open sockets cost with no traffic, to tell it apart from the per message cost.
        idle = common.CpuMeter({"server": server_pids}, with_postgres=False)
        idle.start()
        await asyncio.sleep(args.idle)
        idle_cpu = idle.stop()
        meter = common.CpuMeter(
            {
                "server": server_pids,
                "clients": pool.pids,
                "sender": [sender.pid],
                "redis": [ctx.redis.process.pid] if ctx.redis else [],
            }
        )
        profiler = None
        if args.profile == config and server_pids:
            from bench.profile_server import Profiler

            profiler = Profiler(
                server_pids,
                f"{config.replace('/', '-')}-{rate:g}{'-gil' if args.profile_gil else ''}",
                args.duration,
                gil=args.profile_gil,
            )
            profiler.start()
        meter.start()
        seq0 = ctx.next_seq(rate * (args.duration + 10))
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
        await pool.call("close")
        for server in servers:
            await asyncio.to_thread(server.stop)

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
        "config": (config if not args.url else args.url) + (" split" if args.split else ""),
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
        "latencies_ms": lat_ms,
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


class Context:
    def __init__(self, args, log_dir: Path) -> None:
        self.args = args
        self.log_dir = log_dir
        self.redis = None
        self.redis_url = args.redis_url
        self._seq = 0
        self.pool: ClientPool | None = None
        self.sender: Worker | None = None

    def next_seq(self, span: float) -> int:
        start = self._seq
        self._seq += int(span) + 1000
        return start


def median_rows(rows: list[dict]) -> list[dict]:
    """One row per (config, procs, rate): numbers are medians over the rounds."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["config"], row["procs"], row["rate"]), []).append(row)
    out = []
    for group in groups.values():
        merged = dict(group[0])
        for key, value in group[0].items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                merged[key] = common.median([g[key] for g in group])
        merged["lost"] = sum(g["lost"] for g in group)
        merged["dup"] = sum(g["dup"] for g in group)
        merged["sent"] = sum(g["sent"] for g in group)
        merged["keeps up"] = "yes" if all(g["keeps up"] == "yes" for g in group) else "no"
        merged["latencies_ms"] = [x for g in group for x in g["latencies_ms"]]
        merged["rounds"] = len(group)
        out.append(merged)
    return out


def plot(rows: list[dict], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, box) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})
    labels, data = [], []
    for row in rows:
        values = sorted(row["latencies_ms"])
        if not values:
            continue
        label = f"{row['config']} x{row['procs']} @{row['rate']:g}/s"
        n = len(values)
        ax.plot(values, [100 * (i + 1) / n for i in range(n)], label=label, linewidth=1.4)
        labels.append(label.replace(" ", "\n", 1))
        data.append(values)
    ax.set_xscale("log")
    ax.set_xlabel("POST -> new_message frame (ms, log scale)")
    ax.set_ylabel("percent of messages delivered within")
    ax.axvline(4, color="grey", linestyle=":", linewidth=1)
    ax.axvline(10, color="grey", linestyle="--", linewidth=1)
    ax.text(4, 2, " p50 target", color="grey", fontsize=8)
    ax.text(10, 8, " p99 target", color="grey", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    box.boxplot(data, whis=(1, 99), showfliers=False, orientation="vertical")
    box.set_xticks(range(1, len(labels) + 1), labels, fontsize=7, rotation=30)
    box.set_yscale("log")
    box.set_ylabel("ms (box: p25-p75, whiskers: p1-p99)")
    box.grid(True, which="both", axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


async def run(args) -> list[dict]:
    raise_descriptor_limit()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    ctx = Context(args, log_dir)
    if not args.redis_url and not args.url:
        ctx.redis = common.RedisProc(log_dir).start()
        ctx.redis_url = ctx.redis.url
    configs = [c for c in args.configs.split(",") if c] if not args.url else ["given"]
    rates = [float(r) for r in args.rates.split(",")]
    procs_list = [int(p) for p in args.procs.split(",")]
    rows: list[dict] = []
    try:
        await asyncio.to_thread(
            common.setup_django, args.db_url, ctx.redis_url or "redis://127.0.0.1:6379/0"
        )
        users = await asyncio.to_thread(common.seed_users, args.clients)
        log(f"{len(users)} users ready; server logs in {log_dir}")
        ctx.pool = ClientPool(users, args.workers, urls=["ws://unset"])
        ctx.sender = Worker("sender", users, ["http://unset"])
        matrix = [(c, p, r) for r in rates for p in procs_list for c in configs]
        for round_index in range(args.rounds):
            order = matrix if round_index % 2 == 0 else matrix[::-1]
            for config, procs, rate in order:
                if config.startswith("bare") and procs > 1:
                    continue
                log(f"round {round_index + 1}: {config} x{procs} at {rate:g}/s")
                row = await measure_one(ctx, config, procs, rate)
                rows.append(row)
                log(
                    f"  sent {row['sent']} lost {row['lost']} dup {row['dup']} "
                    f"p50 {fmt(row['p50'], 2)} p99 {fmt(row['p99'], 2)} ms, "
                    f"server {fmt(row['server ms/msg'], 2)} ms/msg "
                    f"({fmt(row['server CPU %'])}% CPU), clients {fmt(row['clients CPU %'])}%"
                    f", machine busy {fmt(row['machine busy %'])}%"
                )
    finally:
        if ctx.pool:
            ctx.pool.stop()
        if ctx.sender:
            ctx.sender.stop()
        if ctx.redis:
            ctx.redis.stop()
    return rows


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    rows = asyncio.run(run(args))
    table = median_rows(rows)
    note = f"(latencies in ms; CPU % of one core; medians over {args.rounds} round(s))"
    common.print_table(table, TABLE_COLUMNS, note, digits=2)
    if args.plot:
        plot(table, args.plot, f"{args.clients} clients, {args.duration:g} s per configuration")
        print("plot:", args.plot)
    common.print_json_and_profiles(args, rows, table)
    best = min(table, key=lambda r: r["p50"]) if table else None
    with contextlib.suppress(ValueError, TypeError):
        print(
            "SUMMARY latency: "
            + "; ".join(
                f"{r['config']} x{r['procs']} @{r['rate']:g}/s p50 {fmt(r['p50'], 2)} "
                f"p99 {fmt(r['p99'], 2)} ms lost {r['lost']} dup {r['dup']}"
                for r in table
            )
            + (f"; fastest p50: {best['config']}" if best else "")
        )


if __name__ == "__main__":
    main()
