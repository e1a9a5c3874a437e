"""Where a server's time goes: py-spy samples a running server; the stacks are summed into
categories, the hottest functions (inclusive) and the hottest leaves (self).

    .venv/bin/python -m bench.profile_server --pid 1234 --duration 20
    .venv/bin/python -m bench.profile_server --summarize bench/results/profile-x.txt

Used by `--profile CONFIG` of the other scripts while they measure that configuration;
`--profile-gil` keeps only the samples of the thread holding the GIL (where the CPU goes,
rather than where threads wait).
"""

from __future__ import annotations

import argparse
import collections
import re
import signal
import subprocess
import sys
from pathlib import Path

from bench.common import RESULTS_DIR

# First match wins, tested from the leaf up: what a sample was doing.
CATEGORIES = [
    ("PostgreSQL queries", r"psycopg/|backends/utils\.py|backends/postgresql"),
    ("Django ORM (building SQL, models)", r"django/db/models/"),
    ("JWT (simplejwt, PyJWT)", r"rest_framework_simplejwt|/jwt/"),
    ("channel layer (channels_redis, redis-py, msgpack)", r"channels_redis|/redis/|msgpack"),
    ("DRF views, serializers, auth", r"rest_framework/"),
    (
        "Django request/response, middleware",
        r"django/core/handlers|django/middleware|"
        r"corsheaders|whitenoise|django/contrib/(sessions|auth|messages)|django/http",
    ),
    ("asgiref thread hops (sync_to_async/async_to_sync)", r"asgiref/"),
    (
        "WebSocket framing & TCP (autobahn, twisted, uvicorn, websockets)",
        r"autobahn|twisted|uvicorn|websockets|h11|httptools",
    ),
    ("channels consumer dispatch", r"channels/"),
    ("project code", r"notifications/|messages_app/|friends/|accounts/|numeneon/"),
    ("json", r"json/"),
    ("asyncio event loop", r"asyncio/|uvloop"),
    ("threads waiting for work", r"threading\.py|concurrent/futures"),
]
_CATEGORY_RES = [(name, re.compile(pattern)) for name, pattern in CATEGORIES]


def categorize(frames: list[str]) -> str:
    for name, pattern in _CATEGORY_RES:
        # The deepest frame of interest decides, except that a thread hop counts for its
        # payload: search from the leaf.
        for frame in reversed(frames):
            if pattern.search(frame):
                return name
    return "other"


def read_stacks(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def summarize(paths: list[Path], top: int = 18) -> dict:
    stacks = [s for path in paths for s in read_stacks(path)]
    total = sum(n for _, n in stacks) or 1
    inclusive: collections.Counter = collections.Counter()
    leaf: collections.Counter = collections.Counter()
    categories: collections.Counter = collections.Counter()
    for frames, n in stacks:
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        for frame in set(frames):
            inclusive[frame] += n
        if frames:
            leaf[frames[-1]] += n
        categories[categorize(frames)] += n
    lines = [f"{total} samples (100 a second per thread)", "", "by category:"]
    for name, n in categories.most_common():
        lines.append(f"  {100 * n / total:5.1f}%  {name}")
    lines += ["", "hottest functions (inclusive):"]
    for frame, n in inclusive.most_common(top):
        lines.append(f"  {100 * n / total:5.1f}%  {frame}")
    lines += ["", "hottest leaves (self):"]
    for frame, n in leaf.most_common(top):
        lines.append(f"  {100 * n / total:5.1f}%  {frame}")
    return {
        "samples": total,
        "categories": {k: 100 * v / total for k, v in categories.most_common()},
        "summary": "\n".join(lines),
        "files": [str(p) for p in paths],
    }


class Profiler:
    """py-spy record on each pid for `duration` seconds (non-blocking sampling)."""

    def __init__(
        self, pids: list[int], name: str, duration: float, rate: int = 100, gil: bool = False
    ) -> None:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        self.paths = [RESULTS_DIR / f"profile-{name}-{i}.txt" for i in range(len(pids))]
        self.commands = [
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(duration)),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(path),
            ]
            + (["--gil"] if gil else [])
            for pid, path in zip(pids, self.paths, strict=True)
        ]
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        self.processes = [
            subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for cmd in self.commands
        ]

    def stop(self, now: bool = False) -> dict:
        for process in self.processes:
            if now and process.poll() is None:
                process.send_signal(signal.SIGINT)  # py-spy writes what it has, then exits
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait(10)
        return summarize([p for p in self.paths if p.exists()])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile_server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pid", type=int, action="append", help="server pid (repeatable)")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--name", default="manual")
    parser.add_argument(
        "--gil", action="store_true", help="only samples holding the GIL: where the CPU goes"
    )
    parser.add_argument("--summarize", nargs="*", help="only summarize these raw py-spy files")
    args = parser.parse_args(argv)
    if args.summarize:
        result = summarize([Path(p) for p in args.summarize])
    elif args.pid:
        profiler = Profiler(args.pid, args.name, args.duration, gil=args.gil)
        profiler.start()
        result = profiler.stop()
    else:
        parser.error("give --pid or --summarize")
    print(result["summary"])
    top = next(iter(result["categories"].items()), ("-", 0.0))
    print(f"SUMMARY profile: {result['samples']} samples; top category {top[0]} {top[1]:.1f}%")


if __name__ == "__main__":
    main()
