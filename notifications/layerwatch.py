"""Noticing a lost Redis under the pub/sub channel layer.

RedisPubSubChannelLayer's receive loop reconnects by itself and tells no consumer: while Redis
is away, pushes fail (the events stay stored) and the sockets, none the wiser, would wait for
their user's next event to fill the gap. RedisChannelLayer's receive() raises instead, and the
consumer closes with 1013. The watch gives the pub/sub layer the same behaviour: one PING a
second per server process, and when Redis does not answer, every socket of the process closes
with 1013 so that its client comes back and resumes from its last event id.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable

from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import create_pool
from django.conf import settings
from redis import asyncio as aioredis

logger = logging.getLogger(__name__)

PING_TIMEOUT_SECONDS = 2.0


def layer_needs_watch() -> bool:
    return isinstance(get_channel_layer(), RedisPubSubChannelLayer)


def redis_for_layer() -> aioredis.Redis:
    """A new client on the layer's (first) Redis host: URL, TLS or Sentinel alike."""
    host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
    return aioredis.Redis(connection_pool=create_pool(host))


# One client per event loop (a client belongs to the loop it was made on; tests run many).
_loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
    weakref.WeakKeyDictionary()
)


def loop_redis() -> aioredis.Redis:
    """The running loop's client on the layer's Redis, shared by the watch and the socket
    registry (notifications.registry): one connection pool per process."""
    loop = asyncio.get_running_loop()
    client = _loop_clients.get(loop)
    if client is None:
        client = _loop_clients[loop] = redis_for_layer()
    return client


async def ping(redis: aioredis.Redis) -> None:
    await asyncio.wait_for(redis.ping(), PING_TIMEOUT_SECONDS)


async def ping_once() -> None:
    """One PING on a connection of its own (the health check's, for the pub/sub layer)."""
    redis = redis_for_layer()
    try:
        await ping(redis)
    finally:
        await redis.aclose(close_connection_pool=True)


class LayerWatch:
    """The sockets of one event loop, and the task that pings Redis while there are any."""

    def __init__(self, on_lost: Callable[[object], Awaitable[None]]) -> None:
        self._on_lost = on_lost
        self._consumers: weakref.WeakSet = weakref.WeakSet()
        self._task: asyncio.Task | None = None

    def add(self, consumer: object) -> None:
        self._consumers.add(consumer)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, consumer: object) -> None:
        self._consumers.discard(consumer)

    async def _run(self) -> None:
        while self._consumers:
            await asyncio.sleep(settings.CHANNEL_LAYER_PING_SECONDS)
            try:
                await ping(loop_redis())
            except (OSError, TimeoutError, aioredis.RedisError) as error:
                consumers = list(self._consumers)
                logger.warning(
                    "Redis does not answer (%s); closing %s sockets with 1013",
                    type(error).__name__,
                    len(consumers),
                )
                await asyncio.gather(
                    *(self._on_lost(consumer) for consumer in consumers),
                    return_exceptions=True,
                )


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LayerWatch] = (
    weakref.WeakKeyDictionary()
)


def watch_for(on_lost: Callable[[object], Awaitable[None]]) -> LayerWatch:
    """The watch of the running event loop (tests run several loops in one process)."""
    loop = asyncio.get_running_loop()
    watch = _watches.get(loop)
    if watch is None:
        watch = _watches[loop] = LayerWatch(on_lost)
    return watch
