"""CPU of the hot-path SQL statements, through the ORM and as the project now runs them
(numeneon.rawsql: written-out SQL on Django's cursor), side by side in one process.

    .venv/bin/python -m bench.statement_cost                    # PostgreSQL `bench` database
    .venv/bin/python -m bench.statement_cost --db-url sqlite:////tmp/bench.sqlite3

For each statement of a message and of a socket opening: the median CPU time of one call
(each in its own transaction, like the request's), over `--calls` calls, the ORM's way and
the project's way alternating in rounds so that the machine's drift hits both alike.
"""

from __future__ import annotations

import statistics
import time

from bench.common import log, script_parser, seed_users, setup_django


def cases(sender_id: int, receiver_id: int) -> list[tuple[str, object, object]]:
    """(statement, the ORM's way, the project's way)."""
    from django.db import transaction
    from django.db.models import Exists

    from accounts.models import User
    from friends.models import Friendship, ordered_pair
    from friends.selectors import message_parties
    from messages_app.models import Message
    from notifications.models import Notification
    from notifications.selectors import events_between, last_event_id, user_state
    from numeneon import rawsql

    low, high = ordered_pair(sender_id, receiver_id)

    def atomic(run):
        def call():
            with transaction.atomic():
                run()

        return call

    def parties_orm():
        friendship = Friendship.objects.filter(user_low_id=low, user_high_id=high)
        users = User.objects.filter(pk__in=(sender_id, receiver_id))
        users = users.annotate(is_friend=Exists(friendship)).order_by("pk")
        list(users.select_for_update(no_key=True, of=("self",)))

    def newest_orm():
        newest = Notification.objects.filter(recipient_id=receiver_id).order_by("-id")
        newest.values_list("id", flat=True).first()

    def state_orm():  # what socket_open ran before: two statements
        User.objects.filter(pk=receiver_id).values_list("is_active", flat=True).first()
        newest_orm()

    def replay_orm():  # a resuming socket's missed events, as the ORM read them
        events = Notification.objects.filter(recipient_id=receiver_id, id__gt=0).order_by("id")
        list(events[:3])

    def event():
        return Notification(recipient_id=receiver_id, type="new_message", data={"id": 1, "a": "b"})

    def message():
        return Message(sender_id=sender_id, receiver_id=receiver_id, content="bench")

    return [
        (
            "users + friendship, locked",
            atomic(parties_orm),
            atomic(lambda: message_parties(sender_id=sender_id, receiver_id=receiver_id)),
        ),
        (
            "insert message",
            atomic(lambda: message().save()),
            atomic(lambda: rawsql.insert(message())),
        ),
        ("newest event id", atomic(newest_orm), atomic(lambda: last_event_id(user_id=receiver_id))),
        ("insert event", atomic(lambda: event().save()), atomic(lambda: rawsql.insert(event()))),
        ("socket opening", atomic(state_orm), atomic(lambda: user_state(user_id=receiver_id))),
        (
            "replay, 3 events",
            atomic(replay_orm),
            atomic(lambda: events_between(user_id=receiver_id, after=0, limit=3)),
        ),
    ]


def cpu_ms(run, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        start = time.process_time()
        run()
        out.append((time.process_time() - start) * 1000)
    return out


def main() -> None:
    parser = script_parser("statement_cost", __doc__)
    parser.add_argument("--calls", type=int, default=1000, help="per statement and way")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    # Redis is configured but not used: no statement here pushes.
    setup_django(args.db_url, redis_url="redis://127.0.0.1:6379/0", layer="core")
    sender, receiver = seed_users(2)[:2]
    results = {}
    for name, orm, raw in cases(sender["id"], receiver["id"]):
        cpu_ms(orm, 50), cpu_ms(raw, 50)  # warm-up
        times = {"orm": [], "raw": []}
        for _ in range(args.rounds):
            times["orm"] += cpu_ms(orm, args.calls // args.rounds)
            times["raw"] += cpu_ms(raw, args.calls // args.rounds)
        results[name] = {way: statistics.median(t) for way, t in times.items()}

    print("\n| statement | ORM ms CPU | now ms CPU | ratio |\n|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['orm']:.3f} | {r['raw']:.3f} | {r['orm'] / r['raw']:.1f}x |")
    opening, replay = results.pop("socket opening"), results.pop("replay, 3 events")
    orm, raw = (sum(r[way] for r in results.values()) for way in ("orm", "raw"))
    log(
        f"SUMMARY statement_cost: a message's four statements {orm:.2f} ms CPU through the ORM, "
        f"{raw:.2f} ms now ({orm / raw:.1f}x); a socket opening "
        f"{opening['orm']:.2f} -> {opening['raw']:.2f} ms, a replay of 3 events "
        f"{replay['orm']:.2f} -> {replay['raw']:.2f} ms"
    )


if __name__ == "__main__":
    main()
