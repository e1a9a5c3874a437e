"""The alternative: every client asks `GET /api/notifications/?after=<id>` every 30 seconds.
Measures the server CPU per poll and the poll's response time, to set against the push
numbers: N clients polling every P seconds cost N/P requests a second whether anything
happened or not, and an event waits P/2 seconds on average (up to P) before a client sees it.

    .venv/bin/python -m bench.polling                     # 1,000 clients every 30 s
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench import common
from bench.common import fmt, log, now_ns
from bench.harness import Harness, median_by_config

COLUMNS = [
    "config",
    "clients",
    "period s",
    "polls/s",
    "polls",
    "errors",
    "poll p50",
    "poll p99",
    "server ms/poll",
    "server CPU %",
    "event delay mean s",
    "event delay max s",
]


def build_parser() -> argparse.ArgumentParser:
    parser = common.bench_parser("polling", __doc__, "daphne/core,uvicorn/core")
    parser.add_argument("--clients", type=int, default=1000, help="default: %(default)s")
    parser.add_argument("--period", type=float, default=30.0, help="seconds between polls")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    return parser


async def measure(h: Harness, config: str) -> dict:
    import aiohttp

    args = h.args
    await asyncio.to_thread(common.reset_events)
    servers, _ = await h.start_servers(config)
    url = servers[0].http_url + "/api/notifications/?after=0&limit=200"
    rate = args.clients / args.period
    count = int(rate * args.duration)
    times: list[float] = []
    errors = 0
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:

            async def poll(token: str) -> None:
                nonlocal errors
                start = now_ns()
                try:
                    headers = {"Authorization": f"Bearer {token}"}
                    async with session.get(url, headers=headers) as response:
                        await response.read()
                        if response.status != 200:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                times.append((now_ns() - start) / 1e6)

            await asyncio.gather(*(poll(u["token"]) for u in h.users[:20]))  # warm up
            times.clear()
            meter = h.meter(servers)
            meter.start()
            tasks = []
            begin = time.monotonic()
            for i in range(count):
                delay = begin + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                token = h.users[i % len(h.users)]["token"]
                tasks.append(asyncio.ensure_future(poll(token)))
            await asyncio.gather(*tasks)
            cpu = meter.stop()
    finally:
        await h.stop_servers(servers)
    times.sort()
    return {
        "config": config,
        "clients": args.clients,
        "period s": args.period,
        "polls/s": rate,
        "polls": count,
        "errors": errors,
        "poll p50": common.percentile(times, 50),
        "poll p99": common.percentile(times, 99),
        "server ms/poll": 1000 * cpu["server"] / max(count, 1),
        "server CPU %": 100 * cpu["server"] / cpu["wall s"],
        "event delay mean s": args.period / 2,
        "event delay max s": args.period,
    }


async def run(args) -> list[dict]:
    h = Harness(args, "polling")
    rows = []
    try:
        await h.setup(args.clients)
        for round_index, config in h.plan():
            log(f"round {round_index + 1}: {config}: {args.clients} clients every {args.period} s")
            rows.append(await measure(h, config))
    finally:
        h.teardown()
    return rows


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    rows = asyncio.run(run(args))
    table = median_by_config(rows)
    common.print_table(table, COLUMNS, None, digits=2)
    common.print_json_and_profiles(args, rows, table)
    print(
        "SUMMARY polling: "
        + "; ".join(
            f"{r['config']} {fmt(r['polls/s'])} polls/s cost {fmt(r['server CPU %'])}% CPU "
            f"({fmt(r['server ms/poll'], 2)} ms each), events wait {fmt(r['event delay mean s'])} s"
            " on average"
            for r in table
        )
    )


if __name__ == "__main__":
    main()
