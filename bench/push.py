"""Web Push costs, two numbers:

(a) pushes per second of one `manage.py push_worker` process against the stand-in push service
    (tests/pushservice.py: TLS on loopback, each VAPID token verified, each body decrypted),
    and the worker's CPU per push: N owed pushes queued over S subscriptions, timed until the
    outbox is empty; the median of several rounds.
(b) POST /api/messages/ with push on and off, side by side in one run, alternating rounds, in
    this process as bench.request_cost runs a request. On: VAPID keys set, the receiver has 3
    subscriptions and no socket open, so each message queues 3 outbox rows after its commit.
    Off: no keys. On, unsubscribed: keys set, the receiver without subscriptions (what push
    costs a message to someone who never turned it on).

    .venv/bin/python -m bench.push                  # PostgreSQL database bench_push, its own
    .venv/bin/python -m bench.push --deliveries 2000 --subscriptions 200 --rounds 5
    .venv/bin/python -m bench.push --only messages --rounds 9
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.common import BASE_DIR, cpu_seconds, log, script_parser, seed_users, setup_django
from bench.request_cost import call
from tests.e2e.servers import RedisServer
from tests.pushservice import PushService, vapid_keys, write_certificate

RECEIVER_SUBSCRIPTIONS = 3


def empty_tables() -> None:
    """No events, messages, subscriptions or owed pushes from an earlier run or part."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE notifications_pushdelivery, notifications_pushsubscription, "
            "notifications_notification, messages_app_message RESTART IDENTITY"
        )


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} (rounds {min(values):.2f}-{max(values):.2f})"


def subscribe(service: PushService, user_ids: list[int], count: int) -> list:
    """`count` subscriptions of the stand-in's devices, spread evenly over `user_ids`."""
    from notifications.models import PushSubscription

    made = []
    for i in range(count):
        device = service.new_device()
        made.append(
            PushSubscription(
                user_id=user_ids[i % len(user_ids)],
                endpoint=device.endpoint,
                p256dh=device.p256dh,
                auth=device.auth_b64,
            )
        )
    return PushSubscription.objects.bulk_create(made)


def queue_pushes(subscriptions: list, per_subscription: int) -> int:
    """`per_subscription` new_message events for each subscription's person, each owed to that
    one subscription: the rows notify() and push_deliveries_queue() would leave."""
    from django.utils import timezone

    from notifications.models import EventType, Notification, PushDelivery

    events = Notification.objects.bulk_create(
        Notification(
            recipient_id=s.user_id,
            type=EventType.NEW_MESSAGE,
            data={
                "from_user": {"id": 1, "username": "bench"},
                "message": {"id": i, "content": f"bench message {i}"},
            },
        )
        for s in subscriptions
        for i in range(per_subscription)
    )
    now = timezone.now()
    deliveries = PushDelivery.objects.bulk_create(
        PushDelivery(
            event=event,
            subscription=s,
            due_at=now,
            expires_at=now + timedelta(hours=1),
        )
        for event, s in zip(
            events, (s for s in subscriptions for _ in range(per_subscription)), strict=True
        )
    )
    return len(deliveries)


def worker_rounds(args, service: PushService) -> list[tuple[float, float, float]]:
    """(pushes per second, worker CPU ms per push, stand-in CPU ms per push) of each round."""
    from notifications.models import PushDelivery

    people = [u["id"] for u in seed_users(args.people)]
    subscriptions = subscribe(service, people, args.subscriptions)
    per_subscription = args.deliveries // args.subscriptions
    env = {**os.environ, "PUSH_POLL_SECONDS": "0.02", "LOG_LEVEL": "WARNING"}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "push_worker"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    results = []
    try:
        assert worker.stdout.readline().strip() == "Push worker started."
        for round_ in range(args.rounds):
            sent_before = len(service.pushes)
            queued = queue_pushes(subscriptions, per_subscription)
            cpu0, t0 = cpu_seconds(worker.pid), time.perf_counter()
            here0 = time.process_time()  # the stand-in's threads, and this loop's polling
            while PushDelivery.objects.exists():
                time.sleep(0.01)
            elapsed, cpu = time.perf_counter() - t0, cpu_seconds(worker.pid) - cpu0
            here = time.process_time() - here0
            sent = len(service.pushes) - sent_before
            if sent != queued or service.rejected:
                raise SystemExit(f"{sent} of {queued} pushes arrived; {service.rejected[:3]}")
            results.append((queued / elapsed, cpu * 1000 / queued, here * 1000 / queued))
            log(
                f"worker round {round_ + 1}: {queued} pushes in {elapsed:.2f} s, "
                f"{results[-1][0]:.0f}/s, CPU {results[-1][1]:.2f} ms/push "
                f"(stand-in {results[-1][2]:.2f}), load {os.getloadavg()[0]:.1f}"
            )
    finally:
        worker.terminate()
        worker.wait(10)
    return results


# The third mode is what push costs a message to someone who never turned it on: keys set, the
# receiver's subscriptions lent to someone else, so only the insert's subscription check runs.
MODES = ("on", "off", "on, unsubscribed")


async def message_rounds(args, sender: dict, receiver: dict, other: dict) -> dict[str, list]:
    """Per mode, (median CPU ms, median wall ms) per request of each round."""
    from asgiref.sync import sync_to_async
    from django.conf import settings

    from notifications.models import PushDelivery, PushSubscription
    from numeneon.asgi import application

    body = json.dumps({"receiver_id": receiver["id"], "content": "bench"}).encode()
    keys = (settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY)
    lend = sync_to_async(lambda to: PushSubscription.objects.update(user_id=to["id"]))
    results: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    for round_ in range(args.rounds):
        # Each round starts with another mode, so that none always runs on a warmer process.
        for mode in MODES[round_ % 3 :] + MODES[: round_ % 3]:
            settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = (
                ("", "") if mode == "off" else keys
            )
            settings.WEB_PUSH_ENABLED = mode != "off"
            await lend(other if mode == "on, unsubscribed" else receiver)
            cpu, wall = [], []
            for i in range(args.warmup + args.requests):
                c0, w0 = time.process_time(), time.perf_counter()
                status, out = await call(
                    application, "POST", "/api/messages/", sender["token"], body
                )
                c1, w1 = time.process_time(), time.perf_counter()
                if status != 201:
                    raise SystemExit(f"POST /api/messages/ -> {status}: {out[:300]!r}")
                if i >= args.warmup:
                    cpu.append((c1 - c0) * 1000)
                    wall.append((w1 - w0) * 1000)
            queued = await sync_to_async(lambda: PushDelivery.objects.all().delete()[0])()
            subscriptions = RECEIVER_SUBSCRIPTIONS if mode == "on" else 0
            expected = (args.warmup + args.requests) * subscriptions
            if queued != expected:
                raise SystemExit(f"push {mode}: {queued} outbox rows, not {expected}")
            results[mode].append((statistics.median(cpu), statistics.median(wall)))
            log(
                f"messages round {round_ + 1} push {mode}: CPU {results[mode][-1][0]:.2f} ms, "
                f"wall {results[mode][-1][1]:.2f} ms per request ({queued} rows queued)"
            )
    return results


def main() -> None:
    parser = script_parser("push", __doc__)
    parser.set_defaults(db_url="postgres://postgres@127.0.0.1:5432/bench_push")
    parser.add_argument("--deliveries", type=int, default=2000, help="pushes per worker round")
    parser.add_argument("--subscriptions", type=int, default=200)
    parser.add_argument("--people", type=int, default=50, help="who the subscriptions are of")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300, help="messages per round and mode")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--only", choices=["worker", "messages"])
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-push-"))
    cert, key = write_certificate(work)
    public, private = vapid_keys()
    service = PushService(public, cert, key)
    os.environ.update(
        VAPID_PUBLIC_KEY=public,
        VAPID_PRIVATE_KEY=private,
        PUSH_ALLOWED_HOSTS=f"127.0.0.1:{service.port}",
        PUSH_TLS_CA_FILE=str(cert),
        # One sender, hundreds of messages: lift its per-user rate, keep the throttle's work.
        THROTTLE_MESSAGE_SEND="100000000/minute",
    )
    redis = RedisServer(work).start()
    service.start()
    try:
        setup_django(args.db_url, redis.url)
        worker = messages = None
        if args.only != "messages":
            empty_tables()
            worker = worker_rounds(args, service)
        if args.only != "worker":
            empty_tables()
            sender, receiver, other = seed_users(3)
            subscribe(service, [receiver["id"]], RECEIVER_SUBSCRIPTIONS)
            messages = asyncio.run(message_rounds(args, sender, receiver, other))
    finally:
        service.stop()
        redis.stop()
    if worker:
        rate, cpu, stand_in = zip(*worker, strict=True)
        log(
            f"SUMMARY push worker: {args.deliveries} pushes over {args.subscriptions} "
            f"subscriptions x{args.rounds} rounds: {spread(list(rate))} pushes/s, "
            f"worker CPU {spread(list(cpu))} ms/push, stand-in CPU "
            f"{spread(list(stand_in))} ms/push"
        )
    if messages:
        off = messages["off"]
        parts = []
        for mode in MODES:
            cpu, wall = ([r[k] for r in messages[mode]] for k in (0, 1))
            # Each round's ratio to the same round's "off": drift of the machine cancels.
            ratio = [(r[0] / o[0], r[1] / o[1]) for r, o in zip(messages[mode], off, strict=True)]
            parts.append(
                f"push {mode}: CPU {spread(cpu)} ms, wall {spread(wall)} ms"
                + (
                    ""
                    if mode == "off"
                    else f", to off: CPU x{statistics.median(r[0] for r in ratio):.3f}, "
                    f"wall x{statistics.median(r[1] for r in ratio):.3f}"
                )
            )
        log(
            f"SUMMARY POST /api/messages/ x{args.requests} per round and mode, {args.rounds} "
            f"rounds alternated, median per request: " + "; ".join(parts)
        )


if __name__ == "__main__":
    main()
