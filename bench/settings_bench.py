"""Settings for benchmark servers: the project's settings, with the channel layer chosen by
`BENCH_CHANNEL_LAYER` (`core`: RedisChannelLayer; `pubsub`: RedisPubSubChannelLayer, the
project's default). Used as DJANGO_SETTINGS_MODULE=bench.settings_bench.

`BENCH_SWITCH_INTERVAL=<seconds>` (the `+switch` variant: 0.0005) shortens CPython's GIL
switch interval (5 ms by default), to test whether the event loop waits for the GIL behind
the request threads. `BENCH_GC=off` (the `+nogc` variant) turns the cyclic garbage collector
off: is a p99 tail the collector's pauses? (Its thresholds are the project's GC_THRESHOLD.)
"""

from __future__ import annotations

import gc
import os
import sys

from numeneon import redisconf
from numeneon.settings import *  # noqa: F403
from numeneon.settings import CHANNEL_LAYER_CORE_OPTIONS, CHANNEL_LAYERS, REDIS_URL


def channel_layers(kind: str, redis_url: str, base: dict) -> dict:
    """CHANNEL_LAYERS for `kind`, keeping the project's host options (timeouts, pool size)."""
    host = dict(base["default"]["CONFIG"]["hosts"][0], address=redis_url)
    return redisconf.channel_layers(
        kind=kind,
        host=host,
        prefix=base["default"]["CONFIG"]["prefix"],
        core_options=CHANNEL_LAYER_CORE_OPTIONS,
    )


BENCH_CHANNEL_LAYER = os.environ.get("BENCH_CHANNEL_LAYER", "core")
if REDIS_URL:
    CHANNEL_LAYERS = channel_layers(BENCH_CHANNEL_LAYER, REDIS_URL, CHANNEL_LAYERS)

if os.environ.get("BENCH_GC") == "off":
    gc.disable()

if os.environ.get("BENCH_SWITCH_INTERVAL"):
    sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))
