"""channels-redis's pub/sub layer, holding an Inbox per channel instead of an asyncio.Queue
(numeneon.inbox: about 3 KB less per open socket). Nothing else changes."""

from __future__ import annotations

import asyncio

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close

from numeneon.inbox import Inbox


class PubSubLoopLayer(RedisPubSubLoopLayer):
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
