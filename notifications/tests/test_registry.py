"""notifications.registry: the per-user socket cap's bookkeeping, in Redis and in process."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from channels.layers import channel_layers as channel_layer_manager

from notifications.registry import (
    ENTRY_TTL_SECONDS,
    LocalSocketRegistry,
    RedisSocketRegistry,
    socket_registry,
)
from numeneon.redisconf import channel_layers
from tests.helpers import TEST_REDIS_URL


@pytest.fixture(params=["redis", "local"])
async def registry(request, redis):
    if request.param == "local":
        return LocalSocketRegistry()
    return RedisSocketRegistry(redis, f"test-registry-{uuid.uuid4().hex[:8]}")


async def test_sockets_within_the_cap_evict_nothing(registry):
    for number in range(3):
        assert await registry.register(7, f"chan-{number}", 3) == []
    assert sorted(await registry.channels(7)) == ["chan-0", "chan-1", "chan-2"]


async def test_the_socket_over_the_cap_evicts_the_oldest(registry):
    for number in range(3):
        await registry.register(7, f"chan-{number}", 3)
        await asyncio.sleep(0.002)  # distinct open times
    assert await registry.register(7, "chan-3", 3) == ["chan-0"]
    assert sorted(await registry.channels(7)) == ["chan-1", "chan-2", "chan-3"]


async def test_a_lower_cap_evicts_every_socket_beyond_it_oldest_first(registry):
    for number in range(4):
        await registry.register(7, f"chan-{number}", 20)
        await asyncio.sleep(0.002)
    assert await registry.register(7, "chan-4", 2) == ["chan-0", "chan-1", "chan-2"]


async def test_a_closed_socket_leaves_the_registry_and_users_are_apart(registry):
    await registry.register(7, "seven", 3)
    await registry.register(8, "eight", 3)
    await registry.unregister(7, "seven")
    await registry.unregister(7, "never-registered")
    assert await registry.channels(7) == []
    assert await registry.channels(8) == ["eight"]


async def test_every_process_sees_the_same_sockets_and_the_set_expires(redis):
    prefix = f"test-registry-{uuid.uuid4().hex[:8]}"
    process_a, process_b = RedisSocketRegistry(redis, prefix), RedisSocketRegistry(redis, prefix)
    await process_a.register(7, "on-a", 2)
    await asyncio.sleep(0.002)
    await process_b.register(7, "on-b", 2)
    await asyncio.sleep(0.002)
    assert await process_a.register(7, "on-a-again", 2) == ["on-a"]
    assert 0 < await redis.ttl(f"{prefix}:sockets:7") <= ENTRY_TTL_SECONDS


async def test_an_entry_older_than_any_live_socket_is_dropped_when_the_user_opens_another(redis):
    prefix = f"test-registry-{uuid.uuid4().hex[:8]}"
    key = f"{prefix}:sockets:7"
    await redis.zadd(key, {"left-by-a-killed-process": time.time() - ENTRY_TTL_SECONDS - 1})
    assert await RedisSocketRegistry(redis, prefix).register(7, "new", 20) == []
    assert await redis.zrange(key, 0, -1) == [b"new"]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("memory", LocalSocketRegistry),
        ("pubsub", RedisSocketRegistry),
        ("core", RedisSocketRegistry),
    ],
)
async def test_the_registry_follows_the_channel_layer(settings, kind, expected):
    # With a Redis layer, every process must see every socket of a user, the pub/sub layer
    # included: the default is numeneon.channel_layer's subclass of channels-redis's.
    if kind == "memory":
        layers = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    else:
        host = {"address": TEST_REDIS_URL}
        layers = channel_layers(kind=kind, host=host, prefix="registry-test", core_options={})
    settings.CHANNEL_LAYERS = layers
    channel_layer_manager.backends.clear()
    assert type(socket_registry()) is expected
