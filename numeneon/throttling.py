"""Request throttling: DRF's scoped throttle, with two changes for production."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.exceptions import RedisError
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)


_shared_cache: BaseCache | None = None


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
    global _shared_cache
    if setting == "CACHES":
        _shared_cache = None


class ScopedThrottle(ScopedRateThrottle):
    """Rates come from settings on every request (so they can change without a reload), the
    cache client is shared by the process, and an unreachable cache lets the request through:
    a Redis outage must not turn logins into 500s."""

    @property
    def cache(self) -> BaseCache:
        return throttle_cache()

    @property
    def THROTTLE_RATES(self) -> dict[str, str]:
        return settings.THROTTLE_RATES

    def allow_request(self, request, view) -> bool:
        if not settings.THROTTLE_ENABLED:
            return True
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            logger.warning("Throttle cache unreachable; letting the request through")
            return True
