"""What every benchmark script shares: servers to start, a private Redis, the bench database
and its users, CPU and memory readings from /proc, and statistics."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "bench" / "results"
PY = sys.executable
# Signs the benchmark's JWTs: the servers get the same one. Not a secret of any real server.
SECRET_KEY = "numeneon-bench-only-not-a-secret-7f3a9c1e5b"
DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

SERVER_KINDS = ("daphne", "daphne-bl", "uvicorn", "bare")
LAYERS = ("core", "pubsub")
DEFAULT_CONFIGS = "daphne/core,daphne/pubsub,uvicorn/core,uvicorn/pubsub,bare"
# Daphne's endpoint option for a longer listen queue (the Procfile's -b/-p gives Twisted's 50).
DAPHNE_BACKLOG = 4096


def now_ns() -> int:
    """CLOCK_MONOTONIC: one clock for every process on this machine."""
    return time.monotonic_ns()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def fmt(value: object, digits: int = 1) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(rows: list[dict], columns: list[str], digits: int = 1) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(c, ""), digits) for c in columns) + " |")
    return "\n".join(lines)


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


def save_json(name: str, payload: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1, default=str))
    return path


# --- Redis and servers ----------------------------------------------------------------------


class RedisProc:
    """A redis-server of the benchmark's own, so that other users of :6379 neither disturb the
    numbers nor are disturbed by the load."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProc:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(self.log_path),
                "--maxclients",
                "20000",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


# The variants that set fixed values (config_env).
_VARIANT_ENV = {
    "+nopool": {"DATABASE_POOL": "0"},
    "+switch": {"BENCH_SWITCH_INTERVAL": "0.0005"},
    "+nogc": {"BENCH_GC": "off"},
    "+gcdefault": {"GC_THRESHOLD": ""},
    "+nofreeze": {"GC_FREEZE_AFTER_STARTUP": "0"},
}


def config_env(config: str) -> dict[str, str]:
    """Environment of a configuration's variant: '+nopool' sets the project's DATABASE_POOL=0
    (a new PostgreSQL connection for every request and every database call of a socket, as
    before commit 790116c); '+switch' a 0.5 ms GIL switch interval (bench/settings_bench.py);
    '+threadsN' N threads in Daphne's pool for requests and database calls (ASGI_THREADS);
    '+nogc' no cyclic garbage collector (bench/settings_bench.py), '+gcA_B_C' its thresholds
    (GC_THRESHOLD=A,B,C), '+gcdefault' CPython's, '+nofreeze' no gc.freeze() after start-up
    (numeneon.gctune)."""
    env = {}
    for variant, settings in _VARIANT_ENV.items():
        if variant in config:
            env.update(settings)
    thresholds = re.search(r"\+gc(\d+)_(\d+)_(\d+)", config)
    if thresholds:
        env["GC_THRESHOLD"] = ",".join(thresholds.groups())
        env["BENCH_GC"] = env["GC_THRESHOLD"]  # how checkouts before 939467a set them
    threads = re.search(r"\+threads(\d+)", config)
    if threads:
        env["ASGI_THREADS"] = threads.group(1)
    return env


def code_dir(config: str) -> Path:
    """Where the server's code is: this checkout, or DIR for 'daphne/pubsub@DIR', a git
    worktree of another commit (`git worktree add --detach DIR COMMIT`), so that two commits
    are measured side by side in one run. The load generator and the database stay this
    checkout's: the commits must share the database schema."""
    _, at, path = config.partition("@")
    return Path(path).resolve() if at else BASE_DIR


def server_env(db_url: str, redis_url: str, layer: str, prefix: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings_bench",
        "BENCH_CHANNEL_LAYER": layer,
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


def parse_config(config: str) -> tuple[str, str]:
    """'daphne/core' -> ('daphne', 'core'); 'bare' -> ('bare', 'pubsub').

    Suffixes try a change (see config_env): daphne/core+nopool, daphne/core+switch; and
    `@DIR` serves the code of another checkout (see code_dir)."""
    config = config.split("@", 1)[0].split("+", 1)[0]
    kind, _, layer = config.partition("/")
    if kind == "bare":
        return kind, "pubsub"
    layer = layer or "core"
    if kind not in SERVER_KINDS or layer not in LAYERS:
        raise argparse.ArgumentTypeError(f"unknown configuration {config!r}")
    return kind, layer


class Server:
    """One server process: Daphne (through numeneon.server, as the Procfile runs it), Uvicorn
    (same application) or the bare ASGI server, on a free loopback port."""

    def __init__(
        self, kind: str, env: dict[str, str], log_dir: Path, name: str = "", cwd: Path = BASE_DIR
    ) -> None:
        self.kind = kind
        self.cwd = cwd
        self.env = env
        self.port = free_port()
        self.name = name or f"{kind}-{self.port}"
        self.log_path = log_dir / f"{self.name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/notifications/"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def command(self) -> list[str]:
        port = str(self.port)
        if self.kind == "daphne":
            return [
                PY,
                "-m",
                "numeneon.server",
                "-b",
                "127.0.0.1",
                "-p",
                port,
                "numeneon.asgi:application",
            ]
        if self.kind == "daphne-bl":
            endpoint = f"tcp:port={port}:interface=127.0.0.1:backlog={DAPHNE_BACKLOG}"
            return [PY, "-m", "numeneon.server", "-e", endpoint, "numeneon.asgi:application"]
        app = "bench.bare_server:app" if self.kind == "bare" else "numeneon.asgi:application"
        return [
            PY,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
            "--ws-per-message-deflate",
            "false",
        ]

    def start(self, timeout: float = 30.0) -> Server:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(self.http_url + "/api/auth/me/", timeout=2)
            except urllib.error.HTTPError as error:
                if error.code == 401:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not start in {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class GivenServer:
    """A server given with --url: nothing to start or stop; CPU read only if --server-pid."""

    def __init__(self, url: str, pid: int | None) -> None:
        self.kind = "given"
        self.name = url
        base = url.rstrip("/")
        if base.startswith(("ws://", "wss://")):
            base = "http" + base[2:]
        self.http_url = base
        self.ws_url = "ws" + base[4:] + "/ws/notifications/"
        self._pid = pid

    @property
    def pid(self) -> int | None:
        return self._pid

    def start(self) -> GivenServer:
        return self

    def stop(self) -> None:
        pass


# --- the bench database, its users and tokens -----------------------------------------------


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


def setup_django(db_url: str, redis_url: str, layer: str = "core") -> None:
    """Django in this (controlling) process, on the bench database, migrated."""
    ensure_database(db_url)
    os.environ.update(server_env(db_url, redis_url, layer, "bench-controller"))
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
        cursor.execute("TRUNCATE notifications_notification, messages_app_message RESTART IDENTITY")


def script_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of `python -m bench.<module>`: its docstring as help, and `--db-url`."""
    parser = argparse.ArgumentParser(
        prog=f"python -m bench.{module}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db-url", default=DEFAULT_DB_URL, help="default: %(default)s")
    return parser


def bench_parser(
    module: str, doc: str | None, configs: str = DEFAULT_CONFIGS
) -> argparse.ArgumentParser:
    """The parser of a benchmark that compares server configurations: script_parser's, with
    the arguments they all take."""
    parser = script_parser(module, doc)
    common_arguments(parser, configs)
    return parser


def print_table(table: list[dict], columns: list[str], note: str | None, digits: int = 1) -> None:
    print()
    print(markdown_table(table, columns, digits=digits))
    if note:
        print(note)


def print_json_and_profiles(args, rows: list[dict], table: list[dict], during: str = "") -> None:
    """`--json`: every row written out; `--profile`: each profiled configuration's summary."""
    if args.json:
        payload = {"machine": machine_info(), "args": vars(args), "rows": rows}
        print("json:", save_json(args.json, payload))
    for row in table:
        if row.get("profile"):
            print(f"\nprofile of {row['config']}{during}:\n{row['profile']['summary']}")


def common_arguments(parser: argparse.ArgumentParser, configs: str = DEFAULT_CONFIGS) -> None:
    parser.add_argument(
        "--configs",
        default=configs,
        help="comma-separated server/layer pairs to compare side by side: servers "
        f"{', '.join(SERVER_KINDS)} (daphne-bl: Daphne with backlog={DAPHNE_BACKLOG}); "
        "layers core (RedisChannelLayer), pubsub (RedisPubSubChannelLayer); 'bare' is the "
        "plain ASGI ceiling; a suffix '+variant' tries a setting, '@DIR' serves another "
        "checkout's code, e.g. daphne/pubsub@/tmp/before (default: %(default)s)",
    )
    parser.add_argument(
        "--url",
        help="benchmark this running server instead (http://host:port); it must use the "
        "database given by --db-url and the SECRET_KEY of bench/common.py",
    )
    parser.add_argument("--server-pid", type=int, help="with --url: its pid, to read its CPU")
    parser.add_argument(
        "--redis-url",
        help="Redis for the channel layer (default: a redis-server of the script's own)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="client processes (default: %(default)s)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat each configuration")
    parser.add_argument("--json", help="also write the results to bench/results/NAME.json")
    parser.add_argument(
        "--profile",
        metavar="CONFIG",
        help="py-spy the server(s) of this configuration while measuring; prints where the "
        "time goes (raw stacks in bench/results/profile-*.txt)",
    )
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="with --profile: only samples holding the GIL (where the CPU goes)",
    )


def new_prefix() -> str:
    return f"bench-{secrets.token_hex(4)}"


def log(*parts: object) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)
