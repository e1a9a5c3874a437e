"""Server time of `GET /api/friends/suggestions/` on a network of 100,000 users and 1,000,000
friendships in PostgreSQL.

    .venv/bin/python -m bench.suggestions --db-url postgres://postgres@127.0.0.1:5432/test

`--db-url` names the PostgreSQL server (its database is only used to create and drop the
benchmark's own, `bench_suggestions` by default). The network is made with SQL
(`generate_series`), not the ORM: users joined over three years, 2 % of them inactive, 90 %
with a profile (a third with an avatar); friendships half between people close in id (so that
friends share friends, as in a town or a school) and half at random; pending requests both
ways. Then, for `--samples` random active users, the endpoint is called through the real view
(DRF's test client, a real access token) and its time is taken around the call: p50, p99 and
max in ms, and the statements it ran. `--reuse` keeps the database for the next run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.common import latency_summary, log, script_parser, setup_django

DEFAULT_DB_NAME = "bench_suggestions"


def database_url(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + "/" + name


def prepare_database(server_url: str, name: str, reuse: bool) -> bool:
    """Creates the benchmark's database; True if it already held a network to reuse."""
    import psycopg

    if name in {"test", "postgres"} or name.startswith("test"):
        raise SystemExit(f"refusing to benchmark in database {name!r}: use a database of its own")
    admin_url = server_url.replace("postgres://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and reuse:
            return True
        if exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return False


def drop_database(server_url: str, name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    admin_url = server_url.replace("postgres://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def network_exists() -> bool:
    from friends.models import Friendship

    return Friendship.objects.exists()


def build_network(users: int, friendships: int, pending: int, seed: int) -> None:
    """Rows made by PostgreSQL itself: a few statements, about a minute for the default sizes."""
    from django.db import connection

    with connection.cursor() as cursor:
        # What a run stopped half-way left behind.
        cursor.execute("TRUNCATE accounts_user RESTART IDENTITY CASCADE")
        cursor.execute("SELECT setseed(%s)", [seed / 2**31])
        log(f"users: {users:,}")
        cursor.execute(
            """
            INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name,
                                       email, is_staff, is_active, date_joined)
            SELECT '!', false, 'u' || i, 'First' || i, 'Last' || i, 'u' || i || '@bench.invalid',
                   false, i %% 50 <> 0,
                   now() - interval '3 years' + i * (interval '3 years' / %s)
            FROM generate_series(1, %s) AS i
            """,
            [users, users],
        )
        cursor.execute(
            """
            INSERT INTO accounts_profile (user_id, bio, location, website, avatar)
            SELECT id, 'Hello from ' || username, 'Somewhere', '',
                   CASE WHEN id %% 3 = 0 THEN 'https://img.example.com/' || id || '.png' END
            FROM accounts_user WHERE id %% 10 <> 0
            """,
            [],
        )
        cursor.execute("SELECT min(id), max(id) FROM accounts_user")
        low_id, high_id = cursor.fetchone()
        span = high_id - low_id + 1
        log(f"friendships: {friendships:,}")
        have = 0
        while have < friendships:
            wanted = friendships - have
            # Half near in id (friends who share friends), half anywhere.
            cursor.execute(
                """
                INSERT INTO friends_friendship (user_low_id, user_high_id, created_at)
                SELECT DISTINCT LEAST(a, b), GREATEST(a, b), now()
                FROM (
                    SELECT a, CASE WHEN random() < 0.5
                                   THEN %(low)s + (a - %(low)s + 1 + floor(random() * 300)::int)
                                                  %% %(span)s
                                   ELSE %(low)s + floor(random() * %(span)s)::int END AS b
                    FROM (SELECT %(low)s + floor(random() * %(span)s)::int AS a
                          FROM generate_series(1, %(wanted)s)) AS starts
                ) AS pairs
                WHERE a <> b
                LIMIT %(wanted)s
                ON CONFLICT DO NOTHING
                """,
                {"low": low_id, "span": span, "wanted": wanted},
            )
            have += cursor.rowcount
        log(f"pending requests: about {pending:,}")
        cursor.execute(
            """
            INSERT INTO friends_friendrequest (from_user_id, to_user_id, status, created_at)
            SELECT a, b, 'pending', now()
            FROM (SELECT %(low)s + floor(random() * %(span)s)::int AS a,
                         %(low)s + floor(random() * %(span)s)::int AS b
                  FROM generate_series(1, %(pending)s)) AS pairs
            WHERE a <> b
            ON CONFLICT DO NOTHING
            """,
            {"low": low_id, "span": span, "pending": pending},
        )
        cursor.execute(
            """
            INSERT INTO friends_friendrequest (from_user_id, to_user_id, status, created_at,
                                               responded_at)
            SELECT a, b, 'declined', now(), now()
            FROM (SELECT %(low)s + floor(random() * %(span)s)::int AS a,
                         %(low)s + floor(random() * %(span)s)::int AS b
                  FROM generate_series(1, %(pending)s)) AS pairs
            WHERE a <> b
            """,
            {"low": low_id, "span": span, "pending": pending},
        )
        # As autovacuum leaves a table: statistics, and the visibility map that lets
        # PostgreSQL answer from an index alone.
        cursor.execute("VACUUM ANALYZE")


def describe_network() -> dict[str, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT count(*) FROM accounts_user),
                   (SELECT count(*) FROM accounts_user WHERE NOT is_active),
                   (SELECT count(*) FROM friends_friendship),
                   (SELECT count(*) FROM friends_friendrequest WHERE status = 'pending'),
                   (SELECT max(n) FROM (
                        SELECT count(*) AS n FROM (
                            SELECT user_low_id AS u FROM friends_friendship
                            UNION ALL SELECT user_high_id FROM friends_friendship) AS ends
                        GROUP BY u) AS degrees)
            """
        )
        users, inactive, friendships, pending, max_degree = cursor.fetchone()
    return {
        "users": users,
        "inactive": inactive,
        "friendships": friendships,
        "pending": pending,
        "mean degree": 2 * friendships / users,
        "max degree": max_degree,
    }


def add_hubs(hubs: int, friends_each: int, seed: int) -> list[int]:
    """`hubs` active users given `friends_each` more friends at random: people whose friends
    of friends run to tens of thousands of rows, and whose friends each reach their crowd."""
    from django.db import connection

    from accounts.models import User

    ids = list(User.objects.filter(is_active=True).order_by("id").values_list("id", flat=True))
    chosen = random.Random(seed + 1).sample(ids, hubs)
    low_id, high_id = ids[0], ids[-1]
    with connection.cursor() as cursor:
        for hub in chosen:
            cursor.execute(
                """
                INSERT INTO friends_friendship (user_low_id, user_high_id, created_at)
                SELECT DISTINCT LEAST(%(hub)s, other), GREATEST(%(hub)s, other), now()
                FROM (SELECT %(low)s + floor(random() * %(span)s)::int AS other
                      FROM generate_series(1, %(count)s)) AS others
                WHERE other <> %(hub)s
                ON CONFLICT DO NOTHING
                """,
                {"hub": hub, "low": low_id, "span": high_id - low_id + 1, "count": friends_each},
            )
        cursor.execute("VACUUM ANALYZE friends_friendship")
    return chosen


def measure(samples: int, limit: int | None, seed: int, user_ids: list[int] | None = None) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    if user_ids is None:
        ids = list(User.objects.filter(is_active=True).values_list("id", flat=True))
        chosen = random.Random(seed).sample(ids, samples)
    else:
        chosen = user_ids
    users = {user.pk: user for user in User.objects.filter(pk__in=chosen)}
    tokens = [f"Bearer {AccessToken.for_user(users[user_id])}" for user_id in chosen]
    query = {"limit": limit} if limit else {}
    # One client for all: each client builds Django's middleware chain on its first request
    # (WhiteNoise then scans the static files), which no server does per request.
    client = APIClient()

    for token in (tokens * 20)[:20]:  # warm-up: connection, caches, the first plans
        response = client.get("/api/friends/suggestions/", query, HTTP_AUTHORIZATION=token)
        assert response.status_code == 200, response.content

    times_ms, sizes, mutual_first = [], [], []
    cpu_started = time.process_time()
    for token in tokens:
        start = time.perf_counter()
        response = client.get("/api/friends/suggestions/", query, HTTP_AUTHORIZATION=token)
        times_ms.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content
        body = response.json()
        sizes.append(len(body))
        mutual_first.append(body[0]["mutual_friends_count"] if body else 0)

    cpu_ms = (time.process_time() - cpu_started) * 1000 / len(tokens)
    with CaptureQueriesContext(connection) as captured:
        client.get("/api/friends/suggestions/", query, HTTP_AUTHORIZATION=tokens[0])
    return {
        "latency": latency_summary(times_ms),
        "cpu": cpu_ms,
        "queries": len(captured.captured_queries),
        "sql": [q["sql"] for q in captured.captured_queries],
        "answers": sum(sizes) / len(sizes),
        "top mutual": sum(mutual_first) / len(mutual_first),
    }


def suggestions_through_the_orm(*, user, limit: int) -> list:
    """The reference for the written-out statement of friends.selectors.friend_suggestions:
    the same answer through QuerySets. The ids go from one statement to the next as lists
    (PostgreSQL plans `IN (subquery) OR IN (subquery)` as a scan of every user), and the
    counting and ranking of friends of friends happens in Python: five statements."""
    from collections import Counter

    from django.db.models import F, Value

    from accounts.models import User
    from friends.models import FriendRequest, Friendship

    pending = FriendRequest.objects.filter(status=FriendRequest.Status.PENDING)

    def others(rows, column: str, friend: bool):
        return rows.annotate(other=F(column), friend=Value(friend)).values_list("other", "friend")

    related = others(Friendship.objects.filter(user_low=user), "user_high", True).union(
        others(Friendship.objects.filter(user_high=user), "user_low", True),
        others(pending.filter(from_user=user), "to_user", False),
        others(pending.filter(to_user=user), "from_user", False),
        all=True,
    )
    friend_ids, excluded = [], {user.pk}
    for other_id, is_friend in related:
        excluded.add(other_id)
        if is_friend:
            friend_ids.append(other_id)
    mutual: Counter[int] = Counter()
    if friend_ids:
        mutual.update(
            Friendship.objects.filter(user_low__in=friend_ids)
            .values_list("user_high", flat=True)
            .union(
                Friendship.objects.filter(user_high__in=friend_ids).values_list(
                    "user_low", flat=True
                ),
                all=True,
            )
        )
    for other_id in excluded:
        mutual.pop(other_id, None)
    ranked = sorted(
        User.objects.filter(pk__in=list(mutual), is_active=True).values_list("pk", "date_joined"),
        key=lambda row: (mutual[row[0]], row[1], row[0]),
        reverse=True,
    )[:limit]
    chosen = User.objects.filter(pk__in=[pk for pk, _ in ranked]).select_related("profile")
    by_id = {one.pk: one for one in chosen} if ranked else {}
    suggested = [by_id[pk] for pk, _ in ranked if pk in by_id]
    for one in suggested:
        one.mutual_friends_count = mutual[one.pk]
    if len(suggested) < limit:
        newest = (
            User.objects.filter(is_active=True)
            .exclude(pk__in=[*excluded, *mutual])
            .select_related("profile")
            .order_by("-date_joined", "-pk")[: limit - len(suggested)]
        )
        for one in newest:
            one.mutual_friends_count = 0
            suggested.append(one)
    return suggested


@contextmanager
def through_the_orm() -> Iterator[None]:
    """The view answers with suggestions_through_the_orm meanwhile, after checking, for a
    few users, that it gives the same answer as the project's statement."""
    from accounts.models import User
    from friends import selectors

    for user in User.objects.filter(is_active=True).order_by("?")[:20]:
        project = selectors.friend_suggestions(user=user, limit=20)
        orm = suggestions_through_the_orm(user=user, limit=20)
        assert [(u.pk, u.mutual_friends_count) for u in project] == [
            (u.pk, u.mutual_friends_count) for u in orm
        ], user.pk
    original = selectors.friend_suggestions
    selectors.friend_suggestions = suggestions_through_the_orm
    try:
        yield
    finally:
        selectors.friend_suggestions = original


@contextmanager
def without_suggestion_indexes() -> Iterator[None]:
    """The schema before suggestions: no index on date_joined, and one single-column index
    per side of a friendship (Django's foreign key indexes) instead of the two-column ones."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX user_date_joined")
        cursor.execute("DROP INDEX friendship_by_high")
        cursor.execute("CREATE INDEX bench_friendship_low ON friends_friendship (user_low_id)")
        cursor.execute("CREATE INDEX bench_friendship_high ON friends_friendship (user_high_id)")
        cursor.execute("ANALYZE friends_friendship")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX bench_friendship_low")
            cursor.execute("DROP INDEX bench_friendship_high")
            cursor.execute('CREATE INDEX user_date_joined ON accounts_user (date_joined, "id")')
            cursor.execute(
                "CREATE INDEX friendship_by_high ON friends_friendship (user_high_id, user_low_id)"
            )
            cursor.execute("ANALYZE friends_friendship")


def explain(user_id: int, limit: int) -> str:
    """The plan of the suggestion statements for one user, as PostgreSQL ran them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from friends.selectors import friend_suggestions

    user = User.objects.get(pk=user_id)
    with CaptureQueriesContext(connection) as captured:
        friend_suggestions(user=user, limit=limit)
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return "\n\n".join(plans)


def main() -> None:
    parser = script_parser("suggestions", __doc__)
    parser.set_defaults(db_url="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db-name", default=DEFAULT_DB_NAME, help="default: %(default)s")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--friendships", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=20_000, help="pending requests")
    parser.add_argument("--samples", type=int, default=300, help="users measured")
    parser.add_argument("--limit", type=int, help="?limit= (default: none, i.e. 20)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database, and reuse the one kept"
    )
    parser.add_argument("--explain", action="store_true", help="print one user's query plans")
    parser.add_argument(
        "--hubs",
        type=int,
        default=0,
        help="then give this many users --hub-friends more friends, and measure them (this "
        "adds friendships to a reused database)",
    )
    parser.add_argument("--hub-friends", type=int, default=2000)
    parser.add_argument(
        "--compare-orm",
        action="store_true",
        help="measure again with the reference written with QuerySets (five statements)",
    )
    parser.add_argument(
        "--compare-indexes",
        action="store_true",
        help="measure again without the indexes the suggestions brought (then restore them)",
    )
    args = parser.parse_args()

    reused = prepare_database(args.db_url, args.db_name, args.reuse)
    # No Redis: nothing here pushes. One connection, held: a pool would only add a checkout to
    # every request.
    extra_env = {"ALLOWED_HOSTS": "testserver", "DATABASE_POOL": "0"}
    setup_django(database_url(args.db_url, args.db_name), "", extra_env=extra_env)
    try:
        if not (reused and network_exists()):
            started = time.monotonic()
            build_network(args.users, args.friendships, args.pending, args.seed)
            log(f"network built in {time.monotonic() - started:.0f} s")
        network = describe_network()
        log(
            "network: "
            + ", ".join(f"{k} {v:,.{0 if k != 'mean degree' else 1}f}" for k, v in network.items())
        )
        rows = [("the project's", measure(args.samples, args.limit, args.seed))]
        if args.compare_orm:
            with through_the_orm():
                rows.append(
                    ("the same through the ORM", measure(args.samples, args.limit, args.seed))
                )
        if args.hubs:
            hubs = add_hubs(args.hubs, args.hub_friends, args.seed)
            log(f"{args.hubs} hubs with {args.hub_friends:,} more friends each")
            rows.append(
                (f"the {args.hubs} hubs", measure(args.samples, args.limit, args.seed, hubs))
            )
            rows.append(("random users, hubs added", measure(args.samples, args.limit, args.seed)))
        if args.compare_indexes:
            with without_suggestion_indexes():
                rows.append(
                    (
                        "the project's, without its indexes",
                        measure(args.samples, args.limit, args.seed),
                    )
                )
        print()
        print(
            "| suggestions | samples | p50 ms | p90 ms | p99 ms | max ms | Python CPU ms | queries "
            "| answers | top mutual |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name, result in rows:
            lat = result["latency"]
            print(
                f"| {name} | {lat['n']} | {lat['p50']:.1f} | {lat['p90']:.1f} "
                f"| {lat['p99']:.1f} | {lat['max']:.1f} | {result['cpu']:.1f} "
                f"| {result['queries']} | {result['answers']:.1f} | {result['top mutual']:.1f} |"
            )
        print(
            "\nms: each whole request through the real view, in process (DRF's test client): "
            "authentication, the statements, the JSON. Python CPU: this process's CPU per "
            "request (PostgreSQL's is not in it). queries: per request, with the token's user. "
            "answers: mean entries per answer; top mutual: mean mutual friends of the first."
        )
        if args.explain:
            from accounts.models import User

            user_id = User.objects.filter(is_active=True).order_by("?").values_list("id")[0][0]
            print(explain(user_id, args.limit or 20))
    finally:
        if not args.reuse:
            drop_database(args.db_url, args.db_name)


if __name__ == "__main__":
    main()
