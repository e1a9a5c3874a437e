"""Request throttling: DRF's scoped throttle, with three changes for production, and the same
login limit on the admin's login."""

from __future__ import annotations

import logging
import math
import os

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse
from redis import Redis
from redis.commands.core import Script
from redis.exceptions import RedisError
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from numeneon.clientaddr import client_network

logger = logging.getLogger(__name__)


_shared_cache: BaseCache | None = None
_shared_redis: Redis | None = None


def throttle_cache() -> BaseCache:
    """One cache client for the whole process.

    Django gives every request context its own cache object under ASGI, and a Redis cache
    object its own connection pool: the throttle would open a Redis connection per request.
    """
    global _shared_cache
    if _shared_cache is None:
        _shared_cache = caches.create_connection("default")
    return _shared_cache


@receiver(setting_changed)
def _forget_cache_on_new_settings(*, setting: str, **kwargs) -> None:
    global _shared_cache, _shared_redis
    if setting == "CACHES":
        _shared_cache = _shared_redis = None


def _redis_of(cache: RedisCache) -> Redis:
    """The Redis client of the shared cache, made once: RedisCache makes a new client object
    on every call (its pool is shared), which cost as much CPU as the script's round trip."""
    global _shared_redis
    if _shared_redis is None:
        _shared_redis = cache._cache.get_client(write=True)
    return _shared_redis


# DRF's sliding log (allow while fewer than `limit` requests fell in the last `window`
# seconds; a refused request is not logged), kept in a sorted set: one round trip instead of a
# GET and a SET of the whole pickled history, and no lost update between two processes.
# Returns {allowed, requests now in the window, the oldest one's time}.
_SLIDING_LOG = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  count = count + 1
  allowed = 1
end
redis.call('PEXPIRE', key, math.ceil(window * 1000))
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {allowed, count, oldest[2] or false}
"""
_sliding_log: Script | None = None


class RedisSlidingLog(SimpleRateThrottle):
    """SimpleRateThrottle's decision and Retry-After, with the history in a Redis sorted set
    when the cache is Django's RedisCache; any other cache keeps DRF's implementation."""

    def allow_request(self, request, view) -> bool:
        cache = self.cache
        if self.rate is None or not isinstance(cache, RedisCache):
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        global _sliding_log
        key = cache.make_and_validate_key(f"{self.key}:log")
        client = _redis_of(cache)
        if _sliding_log is None:
            _sliding_log = client.register_script(_SLIDING_LOG)
        self.now = self.timer()
        # A member of its own per request: two requests in the same microsecond both count.
        member = f"{self.now!r}:{os.urandom(6).hex()}"
        allowed, count, oldest = _sliding_log(
            keys=[key], args=[self.now, self.duration, self.num_requests, member], client=client
        )
        if not allowed:
            # What DRF's wait() reads of its history: how many requests are in the window and
            # when the oldest was; it computes Retry-After from them.
            self.history = [float(oldest)] * int(count) if oldest else []
        return bool(allowed)


class ScopedThrottle(ScopedRateThrottle, RedisSlidingLog):
    """Rates come from settings on every request (so they can change without a reload), the
    cache client is shared by the process, the history is one Redis call (RedisSlidingLog),
    and an unreachable cache lets the request through: a Redis outage must not turn logins
    into 500s."""

    @property
    def cache(self) -> BaseCache:
        return throttle_cache()

    @property
    def THROTTLE_RATES(self) -> dict[str, str]:
        return settings.THROTTLE_RATES

    def get_ident(self, request) -> str:
        # REMOTE_ADDR, set by numeneon.clientaddr; an IPv6 client counts by its /64.
        return client_network(super().get_ident(request))

    def allow_request(self, request, view) -> bool:
        if not settings.THROTTLE_ENABLED:
            return True
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            logger.warning("Throttle cache unreachable; letting the request through")
            return True


class _AdminLoginScope:
    throttle_scope = "login"


def admin_login_throttled(login_view):
    """The admin's login view, whose attempts (POSTs) count against the API's login limit for
    the same client address: one budget of guesses, whichever door they come through."""

    def view(request, *args, **kwargs):
        if request.method == "POST":
            throttle = ScopedThrottle()
            if not throttle.allow_request(request, _AdminLoginScope):
                response = HttpResponse(
                    "Too many login attempts; try again later.\n",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(math.ceil(throttle.wait() or 1))
                return response
        return login_view(request, *args, **kwargs)

    return view
