"""numeneon.throttling.RedisSlidingLog must decide exactly as DRF's own SimpleRateThrottle
does, request for request, Retry-After included: the same random sequence of requests is
fed to both, one with its history in a real Redis, the other in DRF's cache-based log."""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import redis
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.throttling import ScopedRateThrottle

from numeneon.throttling import ScopedThrottle, throttle_cache
from tests.helpers import TEST_REDIS_URL


@pytest.fixture
def redis_throttle_cache(settings):
    prefix = f"throttle-test-{uuid.uuid4().hex}"
    settings.THROTTLE_ENABLED = True
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": TEST_REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    yield throttle_cache()
    client = redis.Redis.from_url(TEST_REDIS_URL)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


class DrfReference(ScopedRateThrottle):
    """DRF's implementation, untouched, with its history in a cache of its own."""

    cache = LocMemCache(f"reference-{uuid.uuid4().hex}", {})

    @property
    def THROTTLE_RATES(self):
        from django.conf import settings

        return settings.THROTTLE_RATES


def ask(throttle_class, at: float, user_id: int) -> tuple[bool, float | None]:
    throttle = throttle_class()
    throttle.timer = lambda: at
    request = SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=user_id), META={})
    allowed = throttle.allow_request(request, SimpleNamespace(throttle_scope="message_send"))
    return allowed, None if allowed else throttle.wait()


@pytest.mark.parametrize("rate", ["1/second", "3/minute", "10/minute"])
def test_the_redis_log_decides_and_waits_as_drf_does(redis_throttle_cache, settings, rate):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "message_send": rate}
    limit, window = ScopedRateThrottle().parse_rate(rate)
    rng = random.Random(rate)
    user_id = rng.randrange(10**9)
    at = 1_764_000_000.0 + rng.random()
    refused = 0
    for _ in range(300):
        at += rng.expovariate(limit / window * 1.5)  # a bit faster than the rate allows
        ours, drf = ask(ScopedThrottle, at, user_id), ask(DrfReference, at, user_id)
        assert ours[0] == drf[0], (at, ours, drf)
        if not drf[0]:
            refused += 1
            assert ours[1] == pytest.approx(drf[1], abs=1e-5), (at, ours, drf)
    # The sequence did exercise both answers.
    assert 30 < refused < 270, refused


def test_users_have_separate_logs_that_expire_in_redis(redis_throttle_cache, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "message_send": "2/minute"}
    at = 1_764_000_000.0
    assert [ask(ScopedThrottle, at + i, 1)[0] for i in range(3)] == [True, True, False]
    assert ask(ScopedThrottle, at + 3, 2)[0] is True
    client = redis.Redis.from_url(TEST_REDIS_URL)
    [key] = [k for k in client.scan_iter(match="*throttle_message_send_1:log")]
    assert 0 < client.pttl(key) <= 60_000
    client.close()


def test_concurrent_requests_never_exceed_the_limit(redis_throttle_cache, settings):
    # DRF's GET-then-SET of the history loses updates between threads and processes; the
    # Lua script counts each request once.
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "message_send": "50/minute"}
    at = 1_764_000_000.0
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda i: ask(ScopedThrottle, at + i * 1e-4, 7)[0], range(160)))
    assert answers.count(True) == 50
