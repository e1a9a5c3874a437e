"""CPU of each SQL statement on the hot path (a message, a socket opening and its replay): the
ORM's form beside the statement written out in SQL, side by side in one process.

    .venv/bin/python -m bench.statement_cost                    # PostgreSQL `bench` database
    .venv/bin/python -m bench.statement_cost --db-url sqlite:////tmp/bench.sqlite3

One form of each pair is the project's own code (the `project` column says which); the other
is written here. For each: the median CPU time of one call (each in its own transaction, like
the request's) over `--calls` calls, the two forms alternating in `--rounds` rounds so that the
machine's drift hits both alike, and the lowest and highest of the rounds' medians (a
difference inside that spread is noise). A statement is written out in the project only where
the ORM's form costs clearly more.
"""

from __future__ import annotations

import statistics
import time

from bench.common import log, script_parser, seed_users, setup_django


def cases(sender_id: int, receiver_id: int) -> list[tuple[str, object, object, str]]:
    """(statement, the ORM's form, the written-out form, which of the two the project runs)."""
    from django.db import connection, transaction
    from django.db.models import Exists, Max, OuterRef, Subquery
    from django.utils import timezone

    from accounts.models import User
    from friends.models import Friendship, ordered_pair
    from friends.selectors import message_parties
    from messages_app.models import Message
    from notifications.models import Notification
    from notifications.selectors import events_between, user_state
    from notifications.services import NewEvent, _insert_events, _new_event

    low, high = ordered_pair(sender_id, receiver_id)

    def atomic(run):
        def call():
            with transaction.atomic():
                run()

        return call

    def parties_orm():
        friendship = Friendship.objects.filter(user_low_id=low, user_high_id=high)
        users = User.objects.filter(pk__in=(low, high)).only("id", "username", "is_active")
        users = users.annotate(is_friend=Exists(friendship)).order_by("pk")
        list(users.select_for_update(no_key=True, of=("self",)))

    def message_orm():
        Message.objects.create(sender_id=sender_id, receiver_id=receiver_id, content="bench")

    def message_sql():
        created_at = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(
                'INSERT INTO "messages_app_message" '
                '("sender_id", "receiver_id", "content", "is_read", "created_at") '
                'VALUES (%s, %s, %s, %s, %s) RETURNING "id"',
                [sender_id, receiver_id, "bench", False, created_at],
            )
            cursor.fetchone()

    def two_events() -> list:
        now = timezone.now()
        data = {"id": 1, "content": "bench"}
        return [
            _new_event(NewEvent(receiver_id, "new_message", data), now),
            _new_event(NewEvent(sender_id, "message_sent", data), now),
        ]

    def events_orm():  # each recipient's previous id, then the insert: two statements
        events = two_events()
        previous = Notification.objects.filter(recipient_id__in=(sender_id, receiver_id))
        dict(previous.values_list("recipient_id").annotate(Max("id")))
        Notification.objects.bulk_create(events)

    def state_orm():
        newest = Notification.objects.filter(recipient_id=OuterRef("pk")).order_by("-id")
        user = User.objects.filter(pk=receiver_id)
        user = user.annotate(newest=Subquery(newest.values("id")[:1]))
        user.values_list("is_active", "newest").first()

    def replay_orm():
        events = Notification.objects.filter(recipient_id=receiver_id, id__gt=0, id__lte=2**62)
        list(events.order_by("id")[:3])

    return [
        (
            "users + friendship, locked",
            atomic(parties_orm),
            atomic(lambda: message_parties(sender_id=sender_id, receiver_id=receiver_id)),
            "SQL",
        ),
        ("insert message", atomic(message_orm), atomic(message_sql), "ORM"),
        (
            "insert both events, previous ids",
            atomic(events_orm),
            atomic(lambda: _insert_events(two_events())),
            "SQL",
        ),
        (
            "socket opening: user, newest id",
            atomic(state_orm),
            atomic(lambda: user_state(user_id=receiver_id)),
            "SQL",
        ),
        (
            "replay, 3 events",
            atomic(replay_orm),
            atomic(lambda: events_between(user_id=receiver_id, after=0, up_to=2**62, limit=3)),
            "SQL",
        ),
    ]


MESSAGE_PATH = ("users + friendship, locked", "insert message", "insert both events, previous ids")


def cpu_ms(run, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        start = time.process_time()
        run()
        out.append((time.process_time() - start) * 1000)
    return out


def main() -> None:
    parser = script_parser("statement_cost", __doc__)
    parser.add_argument("--calls", type=int, default=1000, help="per statement and form")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    # Redis is configured but not used: no statement here pushes.
    setup_django(args.db_url, redis_url="redis://127.0.0.1:6379/0", layer="core")
    sender, receiver = seed_users(2)[:2]
    from notifications.models import Notification

    # The replay reads 3 events.
    Notification.objects.bulk_create(
        [Notification(recipient_id=receiver["id"], type="new_message", data={}) for _ in range(3)]
    )
    results = {}
    for name, orm, sql, project in cases(sender["id"], receiver["id"]):
        cpu_ms(orm, 50), cpu_ms(sql, 50)  # warm-up
        times = {"orm": [], "sql": []}
        rounds = {"orm": [], "sql": []}
        for _ in range(args.rounds):
            for form, run in (("orm", orm), ("sql", sql)):
                calls = cpu_ms(run, args.calls // args.rounds)
                times[form] += calls
                rounds[form].append(statistics.median(calls))
        results[name] = {form: statistics.median(t) for form, t in times.items()}
        results[name] |= {f"{form} rounds": (min(r), max(r)) for form, r in rounds.items()}
        results[name]["project"] = project

    print(
        "\n| statement | ORM ms CPU (rounds) | written out ms CPU (rounds) | ORM/SQL | project |"
        "\n|---|---|---|---|---|"
    )
    for name, r in results.items():
        (orm_low, orm_high), (sql_low, sql_high) = r["orm rounds"], r["sql rounds"]
        print(
            f"| {name} | {r['orm']:.3f} ({orm_low:.3f}-{orm_high:.3f}) "
            f"| {r['sql']:.3f} ({sql_low:.3f}-{sql_high:.3f}) "
            f"| {r['orm'] / r['sql']:.1f}x | {r['project']} |"
        )
    message = [results[name] for name in MESSAGE_PATH]
    as_run = sum(r[r["project"].lower()] for r in message)
    all_orm = sum(r["orm"] for r in message)
    opening, replay = results["socket opening: user, newest id"], results["replay, 3 events"]
    log(
        f"SUMMARY statement_cost: a message's statements {as_run:.2f} ms CPU as the project "
        f"runs them, {all_orm:.2f} ms all through the ORM; a socket opening "
        f"{opening['orm']:.2f} (ORM) / {opening['sql']:.2f} ms (SQL), a replay of 3 events "
        f"{replay['orm']:.2f} / {replay['sql']:.2f} ms"
    )


if __name__ == "__main__":
    main()
