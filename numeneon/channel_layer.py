"""channels-redis's pub/sub layer, with two changes for sockets by the thousand:

- a channel holds an Inbox instead of an asyncio.Queue (numeneon.inbox: about 3 KB less per
  open socket);
- subscriptions change in batches (`BatchedShardConnection`). channels-redis sends one
  SUBSCRIBE or UNSUBSCRIBE per channel, each under the shard's one lock, and asyncio hands a
  lock on once per turn of the event loop. When thousands of sockets drop at once, their
  UNSUBSCRIBEs queue on that lock together with the reconnecting sockets' SUBSCRIBEs and
  every PUBLISH; Daphne kills the consumers still waiting after application_close_timeout, and
  each kill logs a traceback ("Unexpected exception while cleaning-up channel") and leaves
  the channel subscribed for the life of the process.
"""

from __future__ import annotations

import asyncio
import logging

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close

from numeneon.inbox import Inbox

logger = logging.getLogger(__name__)


class BatchedShardConnection(RedisSingleShardConnection):
    """A shard whose subscription changes wait for one command per batch: every change asked
    for while the previous batch was being sent goes out in one SUBSCRIBE and one UNSUBSCRIBE.

    subscribe() returns once its SUBSCRIBE is sent (as channels-redis's does); unsubscribe()
    only asks for it and returns at once, so a consumer that is closing never waits on the
    lock, and a cancelled consumer cannot leave its channel subscribed."""

    def __init__(self, host, channel_layer) -> None:
        super().__init__(host, channel_layer)
        self._wanted: dict[str, bool] = {}  # channel -> subscribed, in the batch being gathered
        self._batch: asyncio.Future | None = None  # done when that batch has been sent
        self._senders: set[asyncio.Task] = set()

    async def subscribe(self, channel):
        # Shielded: a subscriber cancelled while waiting must not cancel the others' batch.
        await asyncio.shield(self._ask(channel, True))

    async def unsubscribe(self, channel):
        self._ask(channel, False)

    def _ask(self, channel: str, subscribed: bool) -> asyncio.Future:
        self._wanted[channel] = subscribed
        if self._batch is None:
            loop = asyncio.get_running_loop()
            self._batch = batch = loop.create_future()
            # Unsubscribe-only batches have no reader: their failure is logged by the sender.
            batch.add_done_callback(lambda done: done.cancelled() or done.exception())
            sender = loop.create_task(self._send_batch(batch))
            self._senders.add(sender)  # the loop keeps only a weak reference
            sender.add_done_callback(self._senders.discard)
        return self._batch

    async def _send_batch(self, batch: asyncio.Future) -> None:
        wanted: dict[str, bool] | None = None
        try:
            async with self._lock:
                # What was asked until now; later asks make the next batch.
                wanted, self._wanted, self._batch = self._wanted, {}, None
                subscribe = [c for c, on in wanted.items() if on and c not in self._subscribed_to]
                unsubscribe = [c for c, on in wanted.items() if not on and c in self._subscribed_to]
                try:
                    if subscribe or unsubscribe:
                        self._ensure_redis()
                        self._ensure_receiver()
                    if subscribe:
                        await self._pubsub.subscribe(*subscribe)
                        self._subscribed_to.update(subscribe)
                except Exception as error:
                    # Redis is unreachable: the subscribers get the error (and close their
                    # sockets with 1013).
                    logger.warning("Subscribing %d channel(s) failed: %r", len(subscribe), error)
                    batch.set_exception(error)
                    self._unsubscribe_later(unsubscribe)
                    return
                batch.set_result(None)
                if unsubscribe:
                    try:
                        await self._pubsub.unsubscribe(*unsubscribe)
                        self._subscribed_to.difference_update(unsubscribe)
                    except Exception as error:
                        logger.warning(
                            "Unsubscribing %d channel(s) failed: %r; retried with the next change",
                            len(unsubscribe),
                            error,
                        )
                        self._unsubscribe_later(unsubscribe)
        except BaseException:
            if wanted is None and self._batch is batch:
                self._batch = None  # cancelled before it took the asks: the next ask sends them
            if not batch.done():
                batch.cancel()
            raise

    def _unsubscribe_later(self, channels: list[str]) -> None:
        """Ask again for UNSUBSCRIBEs that were not sent, unless asked otherwise since."""
        for channel in channels:
            self._wanted.setdefault(channel, False)


class PubSubLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shards = [BatchedShardConnection(s.host, self) for s in self._shards]

    async def _subscribe_to_channel(self, channel):
        self.channels[channel] = Inbox()
        shard = self._get_shard(channel)
        await shard.subscribe(channel)


class PubSubChannelLayer(RedisPubSubChannelLayer):
    def _get_layer(self):
        # RedisPubSubChannelLayer._get_layer (channels-redis 4.3), with our loop layer.
        loop = asyncio.get_running_loop()
        try:
            layer = self._layers[loop]
        except KeyError:
            layer = PubSubLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer
