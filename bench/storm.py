"""Reconnect storm: N clients (default 5,000) connected, messages flowing over REST; every
socket drops at once (TCP abort), one event is stored for each user while they are away, and
all reconnect at once with `last_event_id`, retrying with jittered backoff as a client should.
Reports the time until every client is back (its `replay_complete` received), and checks
against the database that nothing stored for any user was missed or sent twice.

    .venv/bin/python -m bench.storm                        # 5,000 clients
    .venv/bin/python -m bench.storm --clients 1000 --configs daphne/core,uvicorn/pubsub
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time

from bench import common
from bench.clients import Worker
from bench.common import fmt, log
from bench.harness import Harness, median_by_config

CONFIGS = "daphne/core,daphne/pubsub,uvicorn/core,uvicorn/pubsub"
COLUMNS = [
    "config",
    "clients",
    "back",
    "storm s",
    "reconnect p50",
    "reconnect p99",
    "attempts",
    "replayed",
    "missed",
    "dup",
    "live sent",
    "server CPU %",
    "clients CPU %",
    "machine busy %",
]


def build_parser() -> argparse.ArgumentParser:
    parser = common.bench_parser("storm", __doc__, CONFIGS)
    parser.set_defaults(workers=4)
    parser.add_argument("--clients", type=int, default=5000, help="default: %(default)s")
    parser.add_argument("--rate", type=float, default=100.0, help="live messages a second")
    parser.add_argument(
        "--limit", type=float, default=60.0, help="give up on the storm after this many seconds"
    )
    return parser


def store_offline_events(user_ids: list[int]) -> int:
    """One event per user, stored while every socket is away (no push: nobody listens)."""
    from django.utils import timezone

    from notifications.models import Notification

    now = timezone.now()
    rows = [
        Notification(
            recipient_id=uid, type="new_message", data={"content": "offline"}, created_at=now
        )
        for uid in user_ids
    ]
    Notification.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def stored_events() -> dict[int, list[int]]:
    from notifications.models import Notification

    out: dict[int, list[int]] = collections.defaultdict(list)
    for uid, eid in Notification.objects.order_by("id").values_list("recipient_id", "id"):
        out[uid].append(eid)
    return out


async def measure(h: Harness, sender: Worker, config: str) -> dict:
    args = h.args
    await asyncio.to_thread(common.reset_events)
    servers, _ = await h.start_servers(config)
    ws_urls = [s.ws_url for s in servers]
    http_urls = [s.http_url for s in servers]
    try:
        first = await h.pool.connect(200, urls=ws_urls, timeout=60, retry_until=60)
        log(f"  {first['ok']}/{first['asked']} connected in {fmt(first['elapsed_s'])} s")
        await sender.call("run", rate=args.rate, duration=3.0, seq0=0, urls=http_urls)
        await asyncio.sleep(1.0)
        await h.pool.call("drop")
        offline = await asyncio.to_thread(store_offline_events, [u["id"] for u in h.users])
        meter = h.meter(servers, sender=[sender.pid])
        profiler = h.profiler(config, servers, "storm")
        meter.start()
        live = asyncio.create_task(
            sender.call("run", rate=args.rate, duration=10.0, seq0=100_000, urls=http_urls)
        )
        storm = await h.pool.connect(
            len(h.users), resume=True, timeout=args.limit, retry_until=args.limit
        )
        cpu = meter.stop()
        profile = profiler.stop(now=True) if profiler else None
        sent = await live
        # Drain: until no frame arrived for 3 s (late is not lost), 60 s at most.
        frames, quiet_since, drain_start = -1, time.monotonic(), time.monotonic()
        while time.monotonic() - quiet_since < 3.0 and time.monotonic() - drain_start < 60:
            await asyncio.sleep(0.5)
            now_frames = (await h.pool.stats(reset=False))["frames"]
            if now_frames != frames:
                frames, quiet_since = now_frames, time.monotonic()
        drained_s = time.monotonic() - drain_start
        still_open = await h.pool.open_count()
        stats = await h.pool.stats(events=True)
        expected = await asyncio.to_thread(stored_events)
    finally:
        await h.stop_servers(servers)
    missed = dup = 0
    for user in h.users:
        got = stats["events"].get(user["id"], [])
        want = set(expected.get(user["id"], []))
        missed += len(want - set(got))
        dup += len(got) - len(set(got))
    lat = sorted(storm["latencies_ms"])
    wall = cpu["wall s"]
    return {
        "config": config,
        "clients": len(h.users),
        "back": storm["ok"],
        "storm s": storm["elapsed_s"],
        "reconnect p50": common.percentile(lat, 50),
        "reconnect p99": common.percentile(lat, 99),
        "attempts": storm["attempts"],
        "failures": storm["failures"],
        "offline events": offline,
        "replayed": stats["replayed"],
        "not recovered": stats["not_recovered"],
        "missed": missed,
        "dup": dup,
        "live sent": sum(1 for r in sent["records"] if r[2] == 201),
        "drain s": drained_s,
        "open at end": still_open,
        "live post errors": sum(1 for r in sent["records"] if r[2] != 201),
        "server CPU %": 100 * cpu["server"] / wall,
        "clients CPU %": 100 * cpu["clients"] / wall,
        "postgres* CPU %": 100 * cpu["postgres*"] / wall,
        "machine busy %": cpu["machine busy %"],
        "closes": stats["closes"],
        "profile": profile,
    }


async def run(args) -> list[dict]:
    h = Harness(args, "storm")
    rows = []
    try:
        await h.setup(args.clients)
        sender = Worker("sender", h.users, ["http://unset"])
        h.extra.append(sender)
        for round_index, config in h.plan():
            log(f"round {round_index + 1}: {config}: storm of {args.clients}")
            row = await measure(h, sender, config)
            rows.append(row)
            log(
                f"  {row['back']}/{row['clients']} back in {fmt(row['storm s'], 2)} s, "
                f"replayed {row['replayed']}, missed {row['missed']}, dup {row['dup']}, "
                f"failures {row['failures']}"
            )
    finally:
        h.teardown()
    return rows


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    rows = asyncio.run(run(args))
    table = median_by_config(rows)
    note = f"(reconnect latencies in ms; medians over {args.rounds} round(s))"
    common.print_table(table, COLUMNS, note, digits=2)
    common.print_json_and_profiles(args, rows, table, " during the storm")
    print(
        "SUMMARY storm: "
        + "; ".join(
            f"{r['config']} {r['back']:g}/{r['clients']} back in {fmt(r['storm s'], 1)} s, "
            f"missed {r['missed']:g}, dup {r['dup']:g}"
            for r in table
        )
    )


if __name__ == "__main__":
    main()
