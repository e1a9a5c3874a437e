"""The cyclic garbage collector, set for a server that holds thousands of sockets.

With CPython's defaults, objects of the requests in flight survive the frequent young
collections (every 700 allocations) and reach the oldest generation, which is then collected
in full again and again. A full collection walks every object of the process, Django's and the
libraries' and those of every open socket, and while it runs the event loop stands still: every
socket's messages wait behind it, which is the tail of the latency. So:

- the start-up objects are moved out of the collector's way (`gc.freeze()`): they live as
  long as the process anyway, and a full collection no longer walks them;
- `GC_THRESHOLD` (default 5000,10,100): young collections rarer than CPython's 700, so that a
  request's objects are mostly freed by reference counting before one can promote them, and a
  full collection at most every 100 middle ones (CPython: 10).

docs/PERFORMANCE.md measures the latency and CPU with these settings against CPython's.
"""

from __future__ import annotations

import gc
import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)


def parse_threshold(raw: str) -> tuple[int, ...] | None:
    """`GC_THRESHOLD` as gc.set_threshold() takes it: "" (leave CPython's), or 1 to 3
    non-negative integers."""
    if not raw.strip():
        return None
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError:
        values = ()
    if not 1 <= len(values) <= 3 or any(value < 0 for value in values):
        raise ImproperlyConfigured(
            f"GC_THRESHOLD must be 1 to 3 comma-separated non-negative integers, got {raw!r}"
        )
    return values


def tune_after_startup() -> None:
    """Called once the application is built: load what the first request would (the URL
    configuration and every view module), then freeze what exists and set the threshold."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports the views)
    if settings.GC_THRESHOLD is not None:
        gc.set_threshold(*settings.GC_THRESHOLD)
    if settings.GC_FREEZE_AFTER_STARTUP:
        gc.collect()
        gc.freeze()
    logger.debug(
        "gc: threshold %s, %d start-up objects frozen", gc.get_threshold(), gc.get_freeze_count()
    )
