"""What the benchmark scripts measure with: the bench database and its users, CPU and memory
readings from /proc, and statistics. The run/report loop is bench/harness.py."""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "bench" / "results"
# Signs the benchmark's JWTs: the servers get the same one. Not a secret of any real server.
SECRET_KEY = "numeneon-bench-only-not-a-secret-7f3a9c1e5b"
DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# --- /proc readings -------------------------------------------------------------------------


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU of a process (and of its reaped children), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # After the command: state is fields[0]; utime, stime, cutime, cstime are 14-17 (1-based).
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_KB


def system_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def netstat(*names: str) -> dict[str, int]:
    """TcpExt counters (ListenOverflows, ListenDrops...) of the whole machine."""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    out: dict[str, int] = {}
    for header, values in zip(lines[::2], lines[1::2], strict=False):
        keys, vals = header.split()[1:], values.split()[1:]
        for key, val in zip(keys, vals, strict=False):
            if key in names:
                out[key] = int(val)
    return out


def postgres_cpu() -> float:
    """CPU of the whole PostgreSQL cluster (postmaster, live and reaped backends).

    Other users of the cluster count too: read it as an upper bound."""
    total = 0.0
    try:
        out = subprocess.run(
            ["pgrep", "-x", "postgres"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return 0.0
    pids = [int(p) for p in out.split()]
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[2])
        except OSError:
            continue
        total += cpu_seconds(pid, children=ppid not in pids)
    return total


class CpuMeter:
    """CPU seconds used by named groups of processes between start() and stop()."""

    def __init__(self, groups: dict[str, list[int]], with_postgres: bool = True) -> None:
        self.groups = groups
        self.with_postgres = with_postgres

    def _read(self) -> dict[str, float]:
        values = {name: sum(cpu_seconds(p) for p in pids) for name, pids in self.groups.items()}
        if self.with_postgres:
            values["postgres*"] = postgres_cpu()
        busy, total = system_cpu()
        values["_busy"], values["_total"] = busy, total
        values["_wall"] = time.monotonic()
        return values

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        end = self._read()
        delta = {k: end[k] - self._start[k] for k in end}
        wall = delta.pop("_wall")
        busy, total = delta.pop("_busy"), delta.pop("_total")
        delta["machine busy %"] = 100.0 * busy / total if total else 0.0
        delta["wall s"] = wall
        return delta


# --- statistics -----------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def latency_summary(values_ms: list[float]) -> dict[str, float]:
    s = sorted(values_ms)
    return {
        "n": len(s),
        "p50": percentile(s, 50),
        "p90": percentile(s, 90),
        "p99": percentile(s, 99),
        "max": s[-1] if s else float("nan"),
    }


def median(values: list[float]) -> float:
    values = [v for v in values if v == v]  # drop NaN
    return statistics.median(values) if values else float("nan")


def machine_info() -> dict[str, str]:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "cpu": f"{os.cpu_count()} x {model}",
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "somaxconn": Path("/proc/sys/net/core/somaxconn").read_text().strip(),
        "nofile": str(resource.getrlimit(resource.RLIMIT_NOFILE)[0]),
    }


def ensure_database(db_url: str) -> None:
    """Creates the PostgreSQL database of `db_url` if missing (SQLite creates its file)."""
    import psycopg

    if db_url.startswith("sqlite:"):
        return
    name = db_url.rsplit("/", 1)[1].split("?")[0]
    if name in {"test", "postgres"} or name.startswith("test"):
        raise SystemExit(f"refusing to benchmark in database {name!r}: use a database of its own")
    admin_url = db_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url.replace("postgres://", "postgresql://"), autocommit=True) as c:
        exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            c.execute(f'CREATE DATABASE "{name}"')


def setup_django(
    db_url: str, redis_url: str, layer: str = "pubsub", extra_env: dict[str, str] | None = None
) -> None:
    """Django in this (controlling) process, on the bench database, migrated."""
    ensure_database(db_url)
    os.environ.update(server_env(db_url, redis_url, layer, "bench-controller"), **(extra_env or {}))
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def seed_users(count: int) -> list[dict]:
    """`count` users `bench000000`..., befriended in pairs (0-1, 2-3...), with access tokens.

    Bulk inserts, one password hash for all; tokens minted with the servers' SECRET_KEY."""
    from django.contrib.auth.hashers import make_password
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from friends.models import Friendship, ordered_pair

    users = User.objects.filter(username__startswith="bench").order_by("id")
    have = users.count()
    if have < count:
        password = make_password("bench-password-not-secret")
        User.objects.bulk_create(
            [
                User(
                    username=f"bench{i:06d}", email=f"bench{i:06d}@bench.invalid", password=password
                )
                for i in range(have, count)
            ],
            batch_size=2000,
        )
    chosen = list(users[:count])
    pairs = [ordered_pair(chosen[i].id, chosen[i + 1].id) for i in range(0, len(chosen) - 1, 2)]
    Friendship.objects.bulk_create(
        [Friendship(user_low_id=a, user_high_id=b) for a, b in pairs],
        batch_size=2000,
        ignore_conflicts=True,
    )
    out = []
    for index, user in enumerate(chosen):
        friend = chosen[index ^ 1] if (index ^ 1) < len(chosen) else None
        out.append(
            {
                "id": user.id,
                "token": str(AccessToken.for_user(user)),
                "friend": friend.id if friend else None,
            }
        )
    return out


def reset_events() -> None:
    """Empty the stored events and messages, so that every configuration starts alike."""
    from django.db import connection

    with connection.cursor() as cursor:
        # CASCADE: whatever refers to an event (push deliveries) goes with it.
        cursor.execute(
            "TRUNCATE notifications_notification, messages_app_message RESTART IDENTITY CASCADE"
        )


def script_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of `python -m bench.<module>`: its docstring as help, and `--db-url`."""
    parser = argparse.ArgumentParser(
        prog=f"python -m bench.{module}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db-url", default=DEFAULT_DB_URL, help="default: %(default)s")
    return parser


def server_env(db_url: str, redis_url: str, layer: str, prefix: str) -> dict[str, str]:
    """The environment of every Django of a run, servers and this controlling process alike."""
    return {
        "DJANGO_SETTINGS_MODULE": "numeneon.settings",
        "CHANNEL_LAYER": layer,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "CHANNEL_LAYER_PREFIX": prefix,
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "0",
        # Plain HTTP on loopback: no redirect to https.
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        # Long enough that no socket of a run is closed with 4002.
        "ACCESS_TOKEN_LIFETIME_SECONDS": "86400",
        "PYTHONUNBUFFERED": "1",
    }


def log(*parts: object) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)
