"""The run/report loop every benchmark script shares: its arguments, the server configurations
it compares side by side, rounds in alternating order, the servers of each round, medians over
the rounds, the table and the JSON file.

A script gives `run()` one `measure(harness, case)` coroutine and gets one row per round and
case; `report()` prints the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import common
from bench.clients import ClientPool, Worker
from bench.common import log
from numeneon.server import raise_descriptor_limit
from tests.e2e.servers import DaphneServer, RedisServer

SERVER_KINDS = ("daphne", "uvicorn", "bare")
LAYERS = ("pubsub", "core")


@dataclass(frozen=True)
class Config:
    """One server configuration, as written on the command line: `kind/layer`, `bare` (the
    ceiling: bench/bare_server.py), and `@DIR` to serve the code of another checkout."""

    name: str
    kind: str
    layer: str
    code_dir: Path


def parse_config(text: str) -> Config:
    """'daphne/pubsub' -> daphne on the pub/sub layer, from this checkout;
    'daphne/pubsub@/tmp/base' -> the same from /tmp/base, a git worktree of another commit
    (`git worktree add --detach /tmp/base COMMIT`), so that two commits are measured side by
    side in one run. The load generator and the database stay this checkout's: the two commits
    must share the database schema."""
    spec, at, path = text.partition("@")
    kind, _, layer = spec.partition("/")
    layer = layer or "pubsub"
    if kind not in SERVER_KINDS or layer not in LAYERS or (kind == "bare" and layer != "pubsub"):
        raise argparse.ArgumentTypeError(f"unknown configuration {text!r}")
    return Config(text, kind, layer, Path(path).resolve() if at else common.BASE_DIR)


def parse_configs(text: str) -> list[Config]:
    return [parse_config(c) for c in text.split(",") if c]


def parser(module: str, doc: str | None, configs: str, workers: int = 2) -> argparse.ArgumentParser:
    """The parser of `python -m bench.<module>`: `--db-url` and what every comparison takes."""
    out = common.script_parser(module, doc)
    out.add_argument(
        "--configs",
        type=parse_configs,
        default=parse_configs(configs),
        help="comma-separated configurations to compare side by side: "
        f"{'|'.join(SERVER_KINDS[:-1])}/{'|'.join(LAYERS)} (Daphne as the Procfile runs it, "
        "Uvicorn on the same application; the pub/sub or the core channel-redis layer), or "
        "'bare', the plain ASGI ceiling; '@DIR' serves another checkout's code, e.g. "
        f"daphne/pubsub@/tmp/base,daphne/pubsub (default: {configs})",
    )
    out.add_argument("--rounds", type=int, default=1, help="repeat each configuration")
    out.add_argument("--json", help="also write every row to bench/results/NAME.json")
    out.add_argument(
        "--redis-url", help="Redis for the channel layer (default: a redis-server of its own)"
    )
    out.add_argument(
        "--workers", type=int, default=workers, help=f"client processes (default: {workers})"
    )
    out.add_argument(
        "--profile",
        metavar="CONFIG",
        help="py-spy the server(s) of this configuration while measuring; prints where the "
        "time goes (raw stacks in bench/results/profile-*.txt)",
    )
    out.add_argument(
        "--profile-gil",
        action="store_true",
        help="with --profile: only samples holding the GIL (where the CPU goes)",
    )
    return out


class Server(DaphneServer):
    """A benchmark's server: Daphne as the tests start it, or Uvicorn serving the same
    application, or the bare ceiling."""

    def __init__(self, config: Config, env: dict[str, str], log_dir: Path, name: str) -> None:
        super().__init__(name, env, log_dir, cwd=config.code_dir)
        self.kind = config.kind

    def command(self) -> list[str]:
        if self.kind == "daphne":
            return super().command()
        app = "bench.bare_server:app" if self.kind == "bare" else "numeneon.asgi:application"
        return [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
            "--ws-per-message-deflate",
            "false",
        ]


class Harness:
    """A run's fixtures: a private Redis, Django on the bench database, its users, the client
    processes, and servers started per configuration."""

    def __init__(self, args, name: str) -> None:
        self.args = args
        self.name = name
        self.log_dir = Path()
        self.redis: RedisServer | None = None
        self.redis_url = args.redis_url
        self.users: list[dict] = []
        self.pool: ClientPool | None = None
        self.sender: Worker | None = None
        self._seq = 0

    def seqs(self, count: float) -> int:
        """The first of `count` message numbers no other message of the run has: a frame that
        arrives late is never taken for a later message's."""
        start = self._seq
        self._seq += int(count) + 1000
        return start

    async def setup(self, users: int, clients: int | None = None, sender: bool = False) -> None:
        """`users` users; the first `clients` of them (all by default) in the client processes;
        with `sender`, a process that POSTs messages between them."""
        raise_descriptor_limit()
        self.log_dir = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))
        if not self.redis_url:
            self.redis = RedisServer(self.log_dir).start()
            self.redis_url = self.redis.url
        await asyncio.to_thread(common.setup_django, self.args.db_url, self.redis_url)
        self.users = await asyncio.to_thread(common.seed_users, users)
        chosen = self.users[:clients] if clients else self.users
        self.pool = ClientPool(chosen, self.args.workers, urls=["ws://unset"])
        if sender:
            self.sender = Worker("sender", self.users, ["http://unset"])
        log(f"{len(self.users)} users ready; server logs in {self.log_dir}")

    def plan(self, cases: Sequence[tuple] = ((),)) -> list[tuple]:
        """(round, config, *case) in the order to run: every round runs every configuration
        for every case, odd rounds in reverse, so that a machine's drift hits each alike."""
        matrix = [(config, *case) for case in cases for config in self.args.configs]
        return [
            (r, *item)
            for r in range(self.args.rounds)
            for item in (matrix if r % 2 == 0 else matrix[::-1])
        ]

    async def start_servers(self, config: Config, procs: int = 1) -> tuple[list[Server], str]:
        """Servers for `config`, and the channel-layer prefix they share (no other run's)."""
        prefix = f"bench-{secrets.token_hex(4)}"
        env = common.server_env(self.args.db_url, self.redis_url, config.layer, prefix)
        servers = [
            Server(config, env, self.log_dir, f"{config.kind}-{config.layer}-{prefix}-{i}")
            for i in range(procs)
        ]
        for server in servers:
            await asyncio.to_thread(server.start)
        return servers, prefix

    async def stop_servers(self, servers: list[Server]) -> None:
        with contextlib.suppress(Exception):
            await self.pool.call("close")
        for server in servers:
            await asyncio.to_thread(server.stop)

    def meter(self, servers: list[Server], **groups: list[int]) -> common.CpuMeter:
        return common.CpuMeter(
            {
                "server": [s.pid for s in servers],
                "clients": self.pool.pids,
                "sender": [self.sender.pid] if self.sender else [],
                "redis": [self.redis.process.pid] if self.redis else [],
                **groups,
            }
        )

    def profiler(self, config: Config, servers: list[Server], name: str, seconds: float = 600):
        """A started py-spy on the servers when --profile names this configuration."""
        if self.args.profile != config.name:
            return None
        from bench.profile_server import Profiler

        gil = "-gil" if self.args.profile_gil else ""
        label = f"{name}-{config.kind}-{config.layer}{gil}"
        profiler = Profiler([s.pid for s in servers], label, seconds, gil=self.args.profile_gil)
        profiler.start()
        return profiler

    def teardown(self) -> None:
        for workers in (self.pool, self.sender):
            if workers:
                workers.stop()
        if self.redis:
            self.redis.stop()


async def run(
    args,
    name: str,
    measure: Callable[..., Awaitable[dict]],
    users: int,
    cases: Sequence[tuple] = ((),),
    brief: Sequence[str] = (),
    **setup,
) -> list[dict]:
    """Every round of every configuration and case: `measure(harness, config, *case)` gives a
    row; the `brief` columns of each are logged as it comes."""
    harness = Harness(args, name)
    rows = []
    try:
        await harness.setup(users, **setup)
        for round_index, config, *case in harness.plan(cases):
            log(f"round {round_index + 1}: {config.name} {' '.join(map(str, case))}")
            row = await measure(harness, config, *case)
            rows.append(row)
            log("  " + ", ".join(f"{key} {fmt(row[key], 2)}" for key in brief))
    finally:
        harness.teardown()
    return rows


def medians(rows: list[dict], key: Sequence[str] = ("config",), sums: Sequence[str] = ()):
    """One row per `key`: its numbers the medians over the rounds, the `sums` columns totals,
    a yes/no column `yes` only if every round said yes."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in key), []).append(row)
    out = []
    for group in groups.values():
        merged = dict(group[0])
        for field, value in group[0].items():
            if field in key:
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                merged[field] = common.median([g[field] for g in group])
            elif value in ("yes", "no"):
                merged[field] = "yes" if all(g[field] == "yes" for g in group) else "no"
        for field in sums:
            merged[field] = sum(g[field] for g in group)
        merged["rounds"] = len(group)
        out.append(merged)
    return out


def fmt(value: object, digits: int = 1) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.{digits}f}"
    return str(value)


def report(args, rows: list[dict], table: list[dict], note: str, columns: str) -> None:
    """The medians as a Markdown table of `columns` ("config | p50 | ...", as its header
    reads); with --json every row written out; with --profile each profiled configuration's
    summary."""
    columns = columns.split(" | ")
    print()
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in table:
        print("| " + " | ".join(fmt(row.get(c, ""), 2) for c in columns) + " |")
    print(f"({note}; medians over {args.rounds} round(s))")
    if args.json:
        common.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = common.RESULTS_DIR / f"{args.json}.json"
        given = {**vars(args), "configs": ",".join(c.name for c in args.configs)}
        payload = {"machine": common.machine_info(), "args": given, "rows": rows}
        path.write_text(json.dumps(payload, indent=1, default=str))
        print("json:", path)
    for row in table:
        if row.get("profile"):
            print(f"\nprofile of {row['config']}:\n{row['profile']['summary']}")
