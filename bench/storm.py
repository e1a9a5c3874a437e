"""Reconnect storm: N clients (default 5,000) connected, messages flowing over REST; every
socket drops at once (TCP abort), one event is stored for each user while they are away, and
all reconnect at once with `last_event_id`, retrying with jittered backoff as a client should.
Reports the time until every client is back (its `replay_complete` received), and checks
against the database that nothing stored for any user was missed or sent twice.

    .venv/bin/python -m bench.storm                        # 5,000 clients
    .venv/bin/python -m bench.storm --clients 1000 --configs daphne/pubsub@/tmp/base,daphne/pubsub
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time

from bench import common, harness
from bench.common import log
from bench.harness import Config, Harness, fmt


def build_parser() -> argparse.ArgumentParser:
    parser = harness.parser("storm", __doc__, "daphne/pubsub,uvicorn/pubsub", workers=4)
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


async def measure(h: Harness, config: Config) -> dict:
    args, sender = h.args, h.sender
    await asyncio.to_thread(common.reset_events)
    servers, _ = await h.start_servers(config)
    ws_urls = [s.socket_url for s in servers]
    http_urls = [s.http_url for s in servers]
    try:
        first = await h.pool.connect(200, urls=ws_urls, timeout=60, retry_until=60)
        log(f"  {first['ok']}/{first['asked']} connected in {fmt(first['elapsed_s'])} s")
        await sender.call("run", rate=args.rate, duration=3.0, seq0=0, urls=http_urls)
        await asyncio.sleep(1.0)
        await h.pool.call("drop")
        offline = await asyncio.to_thread(store_offline_events, [u["id"] for u in h.users])
        meter = h.meter(servers)
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
        "config": config.name,
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


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    brief = ["back", "storm s", "replayed", "missed", "dup", "failures"]
    rows = asyncio.run(harness.run(args, "storm", measure, args.clients, brief=brief, sender=True))
    harness.report(
        args,
        rows,
        harness.medians(rows),
        "reconnect latencies in ms",
        columns=(
            "config | clients | back | storm s | reconnect p50 | reconnect p99 | attempts | "
            "replayed | missed | dup | live sent | server CPU % | clients CPU % | machine busy %"
        ),
    )


if __name__ == "__main__":
    main()
