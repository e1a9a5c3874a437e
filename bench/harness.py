"""Scaffolding shared by capacity, storm and fan-out: a private Redis, Django on the bench
database, users, client processes, and servers started per configuration."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

from bench import common
from bench.clients import ClientPool, Worker
from numeneon.server import raise_descriptor_limit


class Harness:
    def __init__(self, args, name: str) -> None:
        self.args = args
        self.log_dir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.redis: common.RedisProc | None = None
        self.redis_url = args.redis_url
        self.users: list[dict] = []
        self.pool: ClientPool | None = None
        self.extra: list[Worker] = []

    async def setup(self, users: int) -> None:
        raise_descriptor_limit()
        if not self.redis_url and not self.args.url:
            self.redis = common.RedisProc(self.log_dir).start()
            self.redis_url = self.redis.url
        await asyncio.to_thread(
            common.setup_django, self.args.db_url, self.redis_url or "redis://127.0.0.1:6379/0"
        )
        self.users = await asyncio.to_thread(common.seed_users, users)
        self.pool = ClientPool(self.users, self.args.workers, urls=["ws://unset"])
        common.log(f"{len(self.users)} users ready; server logs in {self.log_dir}")

    def configs(self) -> list[str]:
        if self.args.url:
            return ["given"]
        return [c for c in self.args.configs.split(",") if c]

    def plan(self) -> list[tuple[int, str]]:
        """(round, config) in the order to run: odd rounds reversed, to spread drift."""
        out = []
        for r in range(self.args.rounds):
            configs = self.configs() if r % 2 == 0 else self.configs()[::-1]
            out += [(r, c) for c in configs]
        return out

    async def start_servers(self, config: str, procs: int = 1) -> tuple[list, str]:
        """Servers for `config`, and the channel-layer prefix they use."""
        prefix = common.new_prefix()
        if self.args.url:
            return [common.GivenServer(self.args.url, self.args.server_pid)], prefix
        kind, layer = common.parse_config(config)
        env = common.server_env(self.args.db_url, self.redis_url, layer, prefix)
        env.update(common.config_env(config))
        servers = [
            common.Server(
                kind,
                env,
                self.log_dir,
                name=f"{kind}-{layer}-{prefix}-{i}",
                cwd=common.code_dir(config),
            )
            for i in range(procs)
        ]
        for server in servers:
            await asyncio.to_thread(server.start)
        return servers, prefix

    async def stop_servers(self, servers: list) -> None:
        with contextlib.suppress(Exception):
            await self.pool.call("close")
        for server in servers:
            await asyncio.to_thread(server.stop)

    def meter(self, servers: list, **groups: list[int]) -> common.CpuMeter:
        return common.CpuMeter(
            {
                "server": [s.pid for s in servers if s.pid],
                "clients": self.pool.pids,
                "redis": [self.redis.process.pid] if self.redis else [],
                **groups,
            }
        )

    def profiler(self, config: str, servers: list, name: str):
        """A started py-spy on the servers when --profile names this configuration."""
        pids = [s.pid for s in servers if s.pid]
        if getattr(self.args, "profile", None) != config or not pids:
            return None
        from bench.profile_server import Profiler

        profiler = Profiler(
            pids, f"{name}-{config.replace('/', '-')}", 600, gil=self.args.profile_gil
        )
        profiler.start()
        return profiler

    def teardown(self) -> None:
        if self.pool:
            self.pool.stop()
        for worker in self.extra:
            worker.stop()
        if self.redis:
            self.redis.stop()


def median_by_config(rows: list[dict], key: str = "config") -> list[dict]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    out = []
    for group in groups.values():
        merged = dict(group[0])
        for field, value in group[0].items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                merged[field] = common.median([g[field] for g in group])
        merged["rounds"] = len(group)
        out.append(merged)
    return out
