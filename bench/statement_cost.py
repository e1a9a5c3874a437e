"""CPU of each SQL statement on the hot path (a message, a socket opening and its replay) in
two forms, typically the ORM's and the statement written out in SQL, side by side in one
process.

    .venv/bin/python -m bench.statement_cost                    # PostgreSQL `bench` database
    .venv/bin/python -m bench.statement_cost --db-url sqlite:////tmp/bench.sqlite3

One form of each pair is the project's own code (the last column says which); the other is
written here. For each form: the median CPU time of one call, each in its own transaction like
the request's, over `--calls` calls; the two forms alternate in `--rounds` rounds so that the
machine's drift hits both alike, and the lowest and highest of the rounds' medians are shown
(a difference inside that spread is noise). Beside the time, the Python function calls of one
call (counted by cProfile), which a busy machine does not change. The project writes a
statement out only where the ORM's form costs clearly more.
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import time
from typing import NamedTuple

from bench.common import log, script_parser, seed_users, setup_django


class Case(NamedTuple):
    statement: str
    a_name: str
    a: object
    b_name: str
    b: object
    project: str  # a_name or b_name


def cases(sender_id: int, receiver_id: int) -> list[Case]:
    from django.db import connection, transaction
    from django.db.models import Exists, Max, OuterRef, Subquery
    from django.utils import timezone

    from accounts.models import User
    from friends.models import Friendship, ordered_pair
    from friends.selectors import _MESSAGE_PARTIES_SQL, message_parties
    from messages_app.models import Message
    from messages_app.services import _message_insert
    from notifications.models import Notification
    from notifications.selectors import events_between, user_state
    from notifications.services import NewEvent, _insert_events, _new_event

    low, high = ordered_pair(sender_id, receiver_id)
    sender, receiver = message_parties(sender_id=sender_id, receiver_id=receiver_id)

    def atomic(run):
        def call():
            with transaction.atomic():
                run()

        return call

    def parties():
        message_parties(sender_id=sender_id, receiver_id=receiver_id)

    def parties_queryset():
        friendship = Friendship.objects.filter(user_low_id=low, user_high_id=high)
        users = User.objects.filter(pk__in=(low, high)).only("id", "username", "is_active")
        users = users.annotate(is_friend=Exists(friendship)).order_by("pk")
        list(users.select_for_update(no_key=True, of=("self",)))

    def parties_raw():  # the project's statement, through raw() instead of a cursor
        sql = _MESSAGE_PARTIES_SQL
        if connection.features.has_select_for_no_key_update:
            sql += " FOR NO KEY UPDATE"
        for user in User.objects.raw(sql, [low, high, low, high]):
            user.is_friend = bool(user.is_friend)

    def message():
        return Message(sender=sender, receiver=receiver, content="bench")

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

    def state_queryset():
        newest = Notification.objects.filter(recipient_id=OuterRef("pk")).order_by("-id")
        user = User.objects.filter(pk=receiver_id)
        user = user.annotate(newest=Subquery(newest.values("id")[:1]))
        user.values_list("is_active", "newest").first()

    def replay_queryset():
        events = Notification.objects.filter(recipient_id=receiver_id, id__gt=0, id__lte=2**62)
        list(events.order_by("id")[:3])

    def replay():
        events_between(user_id=receiver_id, after=0, up_to=2**62, limit=3)

    out = [
        Case("users + friendship, locked", "QuerySet", parties_queryset, "SQL", parties, "SQL"),
        Case("users + friendship, locked", "raw()", parties_raw, "cursor", parties, "cursor"),
        Case(
            "insert message",
            "save()",
            lambda: message().save(),
            "SQL",
            lambda: _message_insert(message()),
            "SQL",
        ),
        Case(
            "insert both events, previous ids",
            "bulk_create",
            events_orm,
            "SQL",
            lambda: _insert_events(two_events()),
            "SQL",
        ),
        Case(
            "socket opening: user, newest id",
            "QuerySet",
            state_queryset,
            "SQL",
            lambda: user_state(user_id=receiver_id),
            "SQL",
        ),
        Case("replay, 3 events", "QuerySet", replay_queryset, "SQL", replay, "SQL"),
    ]
    return [case._replace(a=atomic(case.a), b=atomic(case.b)) for case in out]


# The statements of a message, in the order it runs them.
MESSAGE_PATH = ("users + friendship, locked", "insert message", "insert both events, previous ids")


def cpu_ms(run, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        start = time.process_time()
        run()
        out.append((time.process_time() - start) * 1000)
    return out


def python_calls(run, calls: int = 100) -> float:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        run()
    profile.disable()
    return sum(stat[1] for stat in pstats.Stats(profile).stats.values()) / calls


def main() -> None:
    parser = script_parser("statement_cost", __doc__)
    parser.add_argument("--calls", type=int, default=1000, help="per statement and form")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    # Redis is configured but not used: no statement here pushes.
    setup_django(args.db_url, redis_url="redis://127.0.0.1:6379/0", layer="core")
    sender, receiver = seed_users(2)[:2]
    from notifications.models import Notification

    # What the replay reads.
    Notification.objects.bulk_create(
        [Notification(recipient_id=receiver["id"], type="new_message", data={}) for _ in range(3)]
    )
    rows = []
    for case in cases(sender["id"], receiver["id"]):
        cpu_ms(case.a, 50), cpu_ms(case.b, 50)  # warm-up
        calls = {"a": [], "b": []}
        rounds = {"a": [], "b": []}
        for _ in range(args.rounds):
            for form, run in (("a", case.a), ("b", case.b)):
                times = cpu_ms(run, args.calls // args.rounds)
                calls[form] += times
                rounds[form].append(statistics.median(times))
        counted = {"a": python_calls(case.a), "b": python_calls(case.b)}
        rows.append((case, {f: statistics.median(c) for f, c in calls.items()}, rounds, counted))

    print(
        "\n| statement | form a / b | a: ms CPU (rounds) | b: ms CPU (rounds) | a/b "
        "| Python calls a / b | project |\n|---|---|---|---|---|---|---|"
    )
    for case, median, rounds, counted in rows:
        a, b = (f"{median[f]:.3f} ({min(rounds[f]):.3f}-{max(rounds[f]):.3f})" for f in ("a", "b"))
        print(
            f"| {case.statement} | {case.a_name} / {case.b_name} | {a} | {b} "
            f"| {median['a'] / median['b']:.1f}x | {counted['a']:.0f} / {counted['b']:.0f} "
            f"| {case.project} |"
        )
    # Each statement's first row compares the ORM with the project's form.
    first = {}
    for case, median, _, _ in rows:
        first.setdefault(case.statement, (case, median))
    project = {name: m["a" if c.project == c.a_name else "b"] for name, (c, m) in first.items()}
    orm = {name: m["a"] for name, (_, m) in first.items()}
    opening, replay = "socket opening: user, newest id", "replay, 3 events"
    log(
        f"SUMMARY statement_cost: a message's statements "
        f"{sum(project[n] for n in MESSAGE_PATH):.2f} ms CPU as the project runs them, "
        f"{sum(orm[n] for n in MESSAGE_PATH):.2f} ms through the ORM; a socket opening "
        f"{project[opening]:.2f} / {orm[opening]:.2f} ms, a replay of 3 events "
        f"{project[replay]:.2f} / {orm[replay]:.2f} ms"
    )


if __name__ == "__main__":
    main()
