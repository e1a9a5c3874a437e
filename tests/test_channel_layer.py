"""numeneon.channel_layer on a real Redis: channels-redis's pub/sub layer with an Inbox per
channel still carries what crosses processes (a push to a group, a 4009 eviction to one
socket's channel) and lets a closed socket's channel go."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio.client import PubSub

from numeneon.channel_layer import PubSubChannelLayer
from numeneon.inbox import Inbox
from tests.helpers import TEST_REDIS_URL


@pytest.fixture
async def processes():
    """Two layers on one Redis, as two server processes hold them."""
    prefix = f"layer-test-{uuid.uuid4().hex[:8]}"
    layers = [PubSubChannelLayer(hosts=[TEST_REDIS_URL], prefix=prefix) for _ in range(2)]
    yield layers
    for layer in layers:
        await layer.flush()


async def test_a_group_message_from_another_process_reaches_the_channel(processes):
    here, there = processes
    channel = await here.new_channel()
    assert isinstance(here._get_layer().channels[channel], Inbox)
    await here.group_add("user_7", channel)
    await there.group_send("user_7", {"type": "notification.event", "id": 1})
    assert await asyncio.wait_for(here.receive(channel), 5) == {
        "type": "notification.event",
        "id": 1,
    }


async def test_a_message_from_another_process_reaches_one_channel(processes):
    # How a process evicts the oldest socket of a user at the cap (4009) on another.
    here, there = processes
    channel = await here.new_channel()
    await there.send(channel, {"type": "session.close", "code": 4009})
    assert await asyncio.wait_for(here.receive(channel), 5) == {
        "type": "session.close",
        "code": 4009,
    }


async def subscribers_become(redis, channel: str, count: int) -> bool:
    """Whether Redis counts `count` subscribers of `channel` within 2 s (a SUBSCRIBE or an
    UNSUBSCRIBE is sent without waiting for Redis to act on it)."""
    for _ in range(100):
        if dict(await redis.pubsub_numsub(channel))[channel.encode()] == count:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_a_closed_sockets_channel_is_forgotten_and_unsubscribed(processes, redis):
    here, _ = processes
    layer = here._get_layer()
    channel = await here.new_channel()
    assert await subscribers_become(redis, channel, 1)
    receiving = asyncio.create_task(here.receive(channel))
    await asyncio.sleep(0)
    receiving.cancel()  # as channels does when the consumer ends
    with pytest.raises(asyncio.CancelledError):
        await receiving
    assert channel not in layer.channels
    assert await subscribers_become(redis, channel, 0)


async def test_subscriptions_asked_for_together_go_out_in_a_few_commands(processes, monkeypatch):
    here, there = processes
    sent = []
    real = PubSub.subscribe

    async def counting(self, *args, **kwargs):
        sent.append(len(args))
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(PubSub, "subscribe", counting)

    async def socket_opens(user: int) -> str:
        channel = await here.new_channel()
        await here.group_add(f"user_{user}", channel)
        return channel

    channels = await asyncio.gather(*(socket_opens(user) for user in range(300)))
    assert sum(sent) == 600  # every channel and every group, once
    assert len(sent) <= 6  # instead of 600 commands, each waiting for the lock
    await there.group_send("user_299", {"type": "notification.event", "id": 9})
    assert (await asyncio.wait_for(here.receive(channels[299]), 5))["id"] == 9


async def test_a_closing_socket_never_waits_for_the_lock_and_its_channel_still_goes(
    processes, redis, caplog
):
    here, _ = processes
    layer = here._get_layer()
    channel = await here.new_channel()
    await here.group_add("user_8", channel)
    assert await subscribers_become(redis, channel, 1)
    shard = layer._get_shard(channel)
    async with shard._lock:  # the lock busy, as in a storm of reconnects
        receiving = asyncio.create_task(here.receive(channel))
        await asyncio.sleep(0)
        receiving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(receiving, 1)  # done at once, not after the lock
        await here.group_discard("user_8", channel)
    assert "Unexpected exception" not in caplog.text
    assert await subscribers_become(redis, channel, 0)
    assert await subscribers_become(redis, f"{layer.prefix}__group__user_8", 0)


async def test_a_group_left_and_joined_again_in_one_batch_stays_subscribed(processes):
    here, there = processes
    old, new = await here.new_channel(), await here.new_channel()
    await here.group_add("user_9", old)
    await here.group_discard("user_9", old)  # the user's last socket here closes...
    await here.group_add("user_9", new)  # ...and the user is back at once
    await there.group_send("user_9", {"type": "notification.event", "id": 3})
    assert (await asyncio.wait_for(here.receive(new), 5))["id"] == 3


async def test_a_socket_opening_while_the_layer_is_flushed_is_subscribed_after(processes):
    here, there = processes
    layer = here._get_layer()
    await here.new_channel()  # a connection to flush
    flushing = asyncio.create_task(layer.flush())
    await asyncio.sleep(0)
    channel = await here.new_channel()  # asked while flush() holds the shard
    await flushing
    await there.send(channel, {"type": "session.close", "code": 4009})
    assert (await asyncio.wait_for(here.receive(channel), 5))["code"] == 4009


async def test_a_failed_unsubscribe_fails_no_subscriber_and_is_sent_again(
    processes, redis, monkeypatch
):
    here, _ = processes
    layer = here._get_layer()
    closing = await here.new_channel()
    assert await subscribers_become(redis, closing, 1)
    real = PubSub.unsubscribe
    failures = []

    async def fails_once(self, *args):
        if not failures:
            failures.append(args)
            raise ConnectionError("Redis went away")
        return await real(self, *args)

    monkeypatch.setattr(PubSub, "unsubscribe", fails_once)
    shard = layer._get_shard(closing)
    async with shard._lock:  # both asks go out in one batch
        await shard.unsubscribe(closing)
        opening = asyncio.create_task(here.new_channel())
        await asyncio.sleep(0)
    await asyncio.wait_for(opening, 5)  # its SUBSCRIBE went out: no error for it
    assert failures == [(closing,)]
    await here.new_channel()  # the next change sends the UNSUBSCRIBE again
    assert await subscribers_become(redis, closing, 0)
