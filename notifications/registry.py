"""Which sockets each user has open, for the per-user cap (one socket over it closes the
user's oldest with 4009).

With a Redis channel layer the registry is a sorted set per user in that Redis (every process
sees every socket, one round trip on the event loop to open, one to close); with the in-memory
layer, which serves one process anyway, it is a dict in the process. Neither is data to keep:
an entry left by a killed process is the oldest of its user's and the first to be evicted, and
a user's set expires a day after their last socket opened.
"""

from __future__ import annotations

import asyncio
import time
import weakref

from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from redis import asyncio as aioredis

from notifications.layerwatch import loop_redis

# Longer than Daphne's --websocket_timeout (86,400 s): no live socket is older than this.
ENTRY_TTL_SECONDS = 86400 + 3600

# Register one socket and return the user's sockets beyond `limit`, oldest first, removed.
_REGISTER = """
local key, now, channel = KEYS[1], tonumber(ARGV[1]), ARGV[2]
local limit, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - ttl)
redis.call('ZADD', key, now, channel)
local beyond = redis.call('ZRANGE', key, 0, -(limit + 1))
if #beyond > 0 then redis.call('ZREM', key, unpack(beyond)) end
redis.call('EXPIRE', key, ttl)
return beyond
"""


def uses_redis() -> bool:
    # By the layer's class, not its dotted path: ours (numeneon.channel_layer) is a subclass.
    return isinstance(get_channel_layer(), RedisChannelLayer | RedisPubSubChannelLayer)


# Registry commands in flight per process. redis-py's pool raises "Too many connections"
# instead of waiting once REDIS_MAX_CONNECTIONS are busy, and a storm of reconnects would fail
# its handshakes that way; past this bound a command waits for its turn instead.
MAX_COMMANDS_IN_FLIGHT = 32


class RedisSocketRegistry:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._register = redis.register_script(_REGISTER)
        self._in_flight = asyncio.Semaphore(MAX_COMMANDS_IN_FLIGHT)

    def _key(self, user_id: int) -> str:
        return f"{self._prefix}:sockets:{user_id}"

    async def register(self, user_id: int, channel_name: str, limit: int) -> list[str]:
        args = [time.time(), channel_name, limit, ENTRY_TTL_SECONDS]
        async with self._in_flight:
            beyond = await self._register(keys=[self._key(user_id)], args=args)
        return [name.decode() if isinstance(name, bytes) else name for name in beyond]

    async def unregister(self, user_id: int, channel_name: str) -> None:
        async with self._in_flight:
            await self._redis.zrem(self._key(user_id), channel_name)

    async def channels(self, user_id: int) -> list[str]:
        names = await self._redis.zrange(self._key(user_id), 0, -1)
        return [name.decode() if isinstance(name, bytes) else name for name in names]


class LocalSocketRegistry:
    def __init__(self) -> None:
        # Per user, channel names in the order their sockets opened.
        self._users: dict[int, dict[str, None]] = {}

    async def register(self, user_id: int, channel_name: str, limit: int) -> list[str]:
        channels = self._users.setdefault(user_id, {})
        channels[channel_name] = None
        beyond = list(channels)[: max(len(channels) - limit, 0)]
        for name in beyond:
            del channels[name]
        return beyond

    async def unregister(self, user_id: int, channel_name: str) -> None:
        channels = self._users.get(user_id, {})
        channels.pop(channel_name, None)
        if not channels:
            self._users.pop(user_id, None)

    async def channels(self, user_id: int) -> list[str]:
        return list(self._users.get(user_id, {}))


# One registry per event loop, on that loop's Redis client (tests run many loops).
_registries: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, RedisSocketRegistry | LocalSocketRegistry
] = weakref.WeakKeyDictionary()


def socket_registry() -> RedisSocketRegistry | LocalSocketRegistry:
    loop = asyncio.get_running_loop()
    registry = _registries.get(loop)
    if registry is None:
        if uses_redis():
            registry = RedisSocketRegistry(loop_redis(), settings.CHANNEL_LAYER_PREFIX)
        else:
            registry = LocalSocketRegistry()
        _registries[loop] = registry
    return registry
