"""Request throttling: DRF's scoped throttle, with two changes for production."""

from __future__ import annotations

import logging

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)


class ScopedThrottle(ScopedRateThrottle):
    """Rates come from settings on every request (so they can change without a reload), and
    an unreachable cache lets the request through: a Redis outage must not turn logins into
    500s."""

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
