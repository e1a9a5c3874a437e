"""numeneon.channel_layer on a real Redis: a consumer's channel is not subscribed there, and
nothing sent to it is dropped silently."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from redis import asyncio as aioredis

from numeneon.channel_layer import PubSubChannelLayer
from tests.e2e.servers import DEFAULT_TEST_REDIS_URL

REDIS_URL = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)


@pytest.fixture
async def redis():
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def processes():
    """Two layers on one Redis, as two server processes would hold."""
    prefix = f"layer-test-{uuid.uuid4().hex[:8]}"
    layers = [PubSubChannelLayer(hosts=[REDIS_URL], prefix=prefix) for _ in range(2)]
    yield layers
    for layer in layers:
        await layer.flush()


async def subscribers(redis, channel: str) -> int:
    return dict(await redis.pubsub_numsub(channel))[channel.encode()]


async def test_a_consumer_channel_gets_group_messages_from_another_process_unsubscribed(
    processes, redis
):
    here, there = processes
    channel = await here.new_channel()
    assert await subscribers(redis, channel) == 0  # no SUBSCRIBE per socket
    await here.group_add("user_7", channel)
    await there.group_send("user_7", {"type": "notification.event", "id": 1})
    assert await asyncio.wait_for(here.receive(channel), 5) == {
        "type": "notification.event",
        "id": 1,
    }


async def test_a_send_to_a_channel_of_this_process_is_delivered_as_a_copy(processes):
    here, _ = processes
    channel = await here.new_channel()
    message = {"type": "session.close", "code": 4009, "channels": [channel]}
    await here.send(channel, message)
    received = await asyncio.wait_for(here.receive(channel), 5)
    assert received == message
    assert received is not message


async def test_a_send_to_another_process_consumer_channel_is_refused_not_lost(processes):
    here, there = processes
    channel = await here.new_channel()
    with pytest.raises(ValueError, match="not a channel of this process"):
        await there.send(channel, {"type": "session.close", "code": 4009})


async def test_a_named_channel_one_receives_on_is_still_subscribed(processes, redis):
    here, there = processes
    channel = f"{here._get_layer().prefix}work-queue"
    receiving = asyncio.create_task(here.receive(channel))
    for _ in range(100):
        if await subscribers(redis, channel):
            break
        await asyncio.sleep(0.02)
    await there.send(channel, {"type": "job", "n": 3})
    assert await asyncio.wait_for(receiving, 5) == {"type": "job", "n": 3}


async def test_a_closed_consumer_channel_is_forgotten(processes):
    here, _ = processes
    layer = here._get_layer()
    channel = await here.new_channel()
    receiving = asyncio.create_task(here.receive(channel))
    await asyncio.sleep(0)
    receiving.cancel()  # as channels does when the consumer ends
    with pytest.raises(asyncio.CancelledError):
        await receiving
    assert channel not in layer.channels
    with pytest.raises(ValueError):
        await here.send(channel, {"type": "late"})
