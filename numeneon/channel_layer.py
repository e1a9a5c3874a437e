"""channels-redis's pub/sub layer, with two changes for sockets by the thousand:

- a channel holds an Inbox instead of an asyncio.Queue (numeneon.inbox: about 3 KB less per
  open socket);
- a consumer's own channel (`new_channel()`) is not subscribed in Redis. Everything this
  project sends a socket goes through the user's group, so that SUBSCRIBE (and its
  UNSUBSCRIBE at close) was one Redis round trip per connect, serialized with every other
  subscription of the process. A `send()` to such a channel is delivered when the channel is
  in this process and refused otherwise, instead of being published to no subscriber.
  Channels that are only received from (`receive()` on a name of one's own) are subscribed
  as before.
"""

from __future__ import annotations

import asyncio
import uuid

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close

from numeneon.inbox import Inbox

SPECIFIC_PREFIX = "specific."


class PubSubLoopLayer(RedisPubSubLoopLayer):
    async def _subscribe_to_channel(self, channel):
        self.channels[channel] = Inbox()
        shard = self._get_shard(channel)
        await shard.subscribe(channel)

    async def new_channel(self, prefix=SPECIFIC_PREFIX):
        channel = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
        self.channels[channel] = Inbox()
        return channel

    async def send(self, channel, message):
        if channel.startswith(self.prefix + SPECIFIC_PREFIX):
            inbox = self.channels.get(channel)
            if inbox is None:
                raise ValueError(
                    f"{channel} is not a channel of this process: a consumer's channel "
                    "receives across processes only through its groups (group_send)"
                )
            inbox.put_nowait(self.channel_layer.serialize(message))
            return
        await super().send(channel, message)


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
