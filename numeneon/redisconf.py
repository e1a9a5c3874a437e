"""Redis settings for the channel layer: a URL (redis:// or TLS rediss://) or Sentinel, and
which of channels-redis's two layers."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


def channel_layer_host(
    *,
    url: str,
    sentinels: list[str],
    sentinel_master: str,
    socket_timeout: float,
    max_connections: int,
) -> dict:
    """One channels-redis host entry.

    `socket_timeout` must exceed channels-redis's 5 s blocking read (BZPOPMIN): redis-py 8
    defaults it to 5 s, and idle consumers would then crash.
    """
    connection = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": 5,
        "max_connections": max_connections,
    }
    if sentinels:
        if not sentinel_master:
            raise ImproperlyConfigured("REDIS_SENTINELS needs REDIS_SENTINEL_MASTER.")
        return {
            "sentinels": [_host_port(entry) for entry in sentinels],
            "master_name": sentinel_master,
            "sentinel_kwargs": {"socket_timeout": 5, "socket_connect_timeout": 5},
            **connection,
        }
    return {"address": url, **connection}


def _host_port(entry: str) -> tuple[str, int]:
    host, _, port = entry.rpartition(":")
    if not host or not port.isdigit():
        raise ImproperlyConfigured(f"REDIS_SENTINELS entries are host:port, got {entry!r}")
    return host, int(port)


def channel_layers(*, kind: str, host: dict, prefix: str, core_options: dict) -> dict:
    """CHANNEL_LAYERS for `kind`: `pubsub` (RedisPubSubChannelLayer) or `core`
    (RedisChannelLayer, which also takes `core_options`: capacity, expiry, group_expiry)."""
    if kind == "pubsub":
        # channels-redis's RedisPubSubChannelLayer, with a lighter queue per channel.
        backend, config = "numeneon.channel_layer.PubSubChannelLayer", {}
    elif kind == "core":
        backend, config = "channels_redis.core.RedisChannelLayer", dict(core_options)
    else:
        raise ImproperlyConfigured(f"CHANNEL_LAYER must be pubsub or core, got {kind!r}")
    config = {"hosts": [host], "prefix": prefix, **config}
    return {"default": {"BACKEND": backend, "CONFIG": config}}
