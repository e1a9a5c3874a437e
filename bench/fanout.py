"""Fan-out: one event type delivered to many users. N clients connected (default 2,000); the
events (one per user per round, default 10 rounds) are stored first, as notify() stores them,
then pushed through the channel layer exactly as notify() pushes them (group `user.<id>`,
`{"type": "notification.event", "id", "prev_id", "text"}` with the frame encoded once) as fast
as the publisher can. Reports events delivered a second, publish-to-frame latency, lost events,
and CPU per delivered event. The bare server gets the same frames over Redis PUBLISH.

    .venv/bin/python -m bench.fanout
    .venv/bin/python -m bench.fanout --clients 5000 --rounds 4 --configs daphne/core,bare
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

from bench import common
from bench.common import fmt, log, now_ns
from bench.harness import Harness, median_by_config

COLUMNS = [
    "config",
    "events",
    "delivered",
    "lost",
    "events/s",
    "publish/s",
    "p50",
    "p99",
    "max",
    "server ms/event",
    "server CPU %",
    "publisher CPU %",
    "clients CPU %",
    "machine busy %",
]


def build_parser() -> argparse.ArgumentParser:
    parser = common.bench_parser("fanout", __doc__)
    parser.add_argument("--clients", type=int, default=2000, help="default: %(default)s")
    parser.add_argument("--events", type=int, default=10, help="events per user (rounds)")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="pushes in flight per publisher process"
    )
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    return parser


def store_events(user_ids: list[int], rounds: int) -> list[list[tuple[int, int, int]]]:
    """Round by round, (user, id, previous id of that user): stored like notify() stores."""
    from django.utils import timezone

    from notifications.models import Notification

    now = timezone.now()
    last: dict[int, int] = {}
    out = []
    for _ in range(rounds):
        rows = Notification.objects.bulk_create(
            [
                Notification(recipient_id=uid, type="new_message", data={}, created_at=now)
                for uid in user_ids
            ],
            batch_size=2000,
        )
        batch = []
        for row in rows:
            batch.append((row.recipient_id, row.id, last.get(row.recipient_id, 0)))
            last[row.recipient_id] = row.id
        out.append(batch)
    return out


def frame_text(event_id: int, seq: int) -> str:
    """The frame notify() would encode (services.encode_frame: compact, not ASCII-escaped)."""
    data = {"content": f"b {seq} {now_ns()}"}
    frame = {
        "type": "new_message",
        "id": event_id,
        "created_at": "2026-01-01T00:00:00Z",
        "data": data,
    }
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


async def _publish(layer_kind, redis_url, prefix, layer_config, items, concurrency) -> dict:
    semaphore = asyncio.Semaphore(concurrency)
    if layer_kind == "bare":
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(redis_url, max_connections=concurrency + 8)

        async def push(uid: int, eid: int, prev: int, seq: int) -> None:
            async with semaphore:
                await client.publish(f"{prefix}.user.{uid}", frame_text(eid, seq))

        closer = client.aclose
    else:
        if layer_kind == "core":
            from channels_redis.core import RedisChannelLayer as Layer
        else:
            from channels_redis.pubsub import RedisPubSubChannelLayer as Layer
        layer = Layer(**layer_config)

        async def push(uid: int, eid: int, prev: int, seq: int) -> None:
            async with semaphore:
                message = {
                    "type": "notification.event",
                    "id": eid,
                    "prev_id": prev,
                    "text": frame_text(eid, seq),
                }
                await layer.group_send(f"user.{uid}", message)

        async def closer() -> None:
            if layer_kind == "pubsub":
                await layer.flush()

    cpu0, start = time.process_time(), now_ns()
    for batch in items:
        await asyncio.gather(*(push(*item) for item in batch))
    elapsed = (now_ns() - start) / 1e9
    cpu = time.process_time() - cpu0
    await closer()
    return {
        "published": sum(len(b) for b in items),
        "publish_s": elapsed,
        "publisher_cpu_s": cpu,
        "start_ns": start,
    }


def _publish_process(*args) -> dict:
    import uvloop

    return uvloop.run(_publish(*args))


async def publish(
    layer_kind: str, redis_url: str, prefix: str, rounds, concurrency: int, processes: int
) -> dict:
    """Pushes from `processes` publisher processes, each a share of the users."""
    layer_config = None
    if layer_kind != "bare":
        from django.conf import settings

        from bench.settings_bench import channel_layers

        layer_config = channel_layers(layer_kind, redis_url, settings.CHANNEL_LAYERS)
        layer_config = dict(layer_config["default"]["CONFIG"], prefix=prefix)
    seq = 0
    shares: list[list] = [[] for _ in range(processes)]
    for batch in rounds:
        parts: list[list] = [[] for _ in range(processes)]
        for i, (uid, eid, prev) in enumerate(batch):
            parts[i % processes].append((uid, eid, prev, seq))
            seq += 1
        for share, part in zip(shares, parts, strict=True):
            share.append(part)
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as executor:
        # Start the processes (imports) before the clock runs.
        await asyncio.gather(
            *(loop.run_in_executor(executor, time.sleep, 0.5) for _ in range(processes))
        )
        results = await asyncio.gather(
            *(
                loop.run_in_executor(
                    executor,
                    _publish_process,
                    layer_kind,
                    redis_url,
                    prefix,
                    layer_config,
                    share,
                    concurrency,
                )
                for share in shares
            )
        )
    start = min(r["start_ns"] for r in results)
    end = max(r["start_ns"] + int(r["publish_s"] * 1e9) for r in results)
    return {
        "published": seq,
        "publish_s": (end - start) / 1e9,
        "publisher_cpu_s": sum(r["publisher_cpu_s"] for r in results),
        "start_ns": start,
    }


async def measure(h: Harness, config: str) -> dict:
    args = h.args
    await asyncio.to_thread(common.reset_events)
    servers, prefix = await h.start_servers(config)
    kind, layer = common.parse_config(config) if not args.url else ("given", "core")
    try:
        connected = await h.pool.connect(
            200, urls=[s.ws_url for s in servers], timeout=60, retry_until=60
        )
        log(f"  {connected['ok']}/{connected['asked']} connected")
        rounds = await asyncio.to_thread(store_events, [u["id"] for u in h.users], args.events)
        total = sum(len(b) for b in rounds)
        await h.pool.stats(reset=True)
        meter = h.meter(servers)
        profiler = h.profiler(config, servers, "fanout")
        meter.start()
        pub = await publish(
            "bare" if kind == "bare" else layer,
            h.redis_url,
            prefix,
            rounds,
            args.concurrency,
            args.publishers,
        )
        stats = None
        for _ in range(300):  # wait for the deliveries, 30 s at most
            stats = await h.pool.stats(reset=False)
            if len(stats["seqs"]) >= total:
                break
            await asyncio.sleep(0.1)
        cpu = meter.stop()
        profile = profiler.stop(now=True) if profiler else None
        stats = await h.pool.stats(reset=True)
    finally:
        await h.stop_servers(servers)
    counts = collections.Counter(stats["seqs"])
    delivered = len(counts)
    lat_ms = sorted(x / 1e6 for x in stats["lat_ns"])
    # Delivery span: from the first publish to the last frame (send time + latency).
    last_frame_ns = pub["start_ns"] + int(pub["publish_s"] * 1e9)
    if lat_ms:
        last_frame_ns = max(last_frame_ns, pub["start_ns"] + int(max(lat_ms) * 1e6))
    span = (last_frame_ns - pub["start_ns"]) / 1e9
    wall = cpu["wall s"]
    return {
        "config": config,
        "users": len(h.users),
        "events": total,
        "delivered": delivered,
        "lost": total - delivered,
        "dup": sum(n - 1 for n in counts.values()),
        "events/s": delivered / span if span else 0.0,
        "publish/s": pub["published"] / pub["publish_s"],
        "p50": common.percentile(lat_ms, 50),
        "p99": common.percentile(lat_ms, 99),
        "max": lat_ms[-1] if lat_ms else float("nan"),
        "server ms/event": 1000 * cpu["server"] / max(delivered, 1),
        "server CPU %": 100 * cpu["server"] / wall,
        "publisher CPU %": 100 * pub["publisher_cpu_s"] / pub["publish_s"],
        "clients CPU %": 100 * cpu["clients"] / wall,
        "redis CPU %": 100 * cpu.get("redis", 0.0) / wall,
        "machine busy %": cpu["machine busy %"],
        "closes": stats["closes"],
        "profile": profile,
    }


async def run(args) -> list[dict]:
    h = Harness(args, "fanout")
    rows = []
    try:
        await h.setup(args.clients)
        for round_index, config in h.plan():
            log(f"round {round_index + 1}: {config}: {args.events} events to {args.clients} users")
            row = await measure(h, config)
            rows.append(row)
            log(
                f"  {row['delivered']}/{row['events']} delivered, {fmt(row['events/s'], 0)}/s "
                f"(published {fmt(row['publish/s'], 0)}/s), p50 {fmt(row['p50'])} ms, "
                f"server {fmt(row['server ms/event'], 3)} ms/event"
            )
    finally:
        h.teardown()
    return rows


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    rows = asyncio.run(run(args))
    table = median_by_config(rows)
    note = f"(latencies publish -> frame in ms; medians over {args.rounds} round(s))"
    common.print_table(table, COLUMNS, note, digits=2)
    common.print_json_and_profiles(args, rows, table, " during fan-out")
    print(
        "SUMMARY fanout: "
        + "; ".join(
            f"{r['config']} {fmt(r['events/s'], 0)} events/s, lost {r['lost']:g}, "
            f"p99 {fmt(r['p99'], 0)} ms"
            for r in table
        )
    )


if __name__ == "__main__":
    main()
