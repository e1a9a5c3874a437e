"""Operations: the health check, log formats, Redis configuration."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from channels_redis.utils import create_pool
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio.connection import SSLConnection
from redis.asyncio.sentinel import SentinelConnectionPool

from numeneon.logfmt import JsonFormatter
from numeneon.redisconf import channel_layer_host

pytestmark = pytest.mark.django_db


def test_healthz_is_200_when_the_database_and_channel_layer_answer(client, in_memory_layer):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "channel_layer": "ok"},
    }


def test_healthz_is_503_naming_the_channel_layer_when_it_fails(client, settings):
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1/0"}]},  # nothing there
        }
    }
    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["channel_layer"].startswith("failing")
    assert body["code"] == "unhealthy" and body["error"] == body["detail"]


def test_healthz_needs_no_credentials_and_is_not_redirected_to_https(client, in_memory_layer):
    assert client.get("/healthz", secure=False).status_code == 200


def host_kwargs(**overrides) -> dict:
    options = {
        "url": "",
        "sentinels": [],
        "sentinel_master": "",
        "socket_timeout": 30.0,
        "max_connections": 100,
    }
    return channel_layer_host(**{**options, **overrides})


def test_a_tls_redis_url_gives_a_tls_connection_pool():
    pool = create_pool(host_kwargs(url="rediss://:secret@redis.example:6380/0"))
    assert pool.connection_class is SSLConnection
    assert pool.connection_kwargs["socket_timeout"] == 30.0  # longer than BZPOPMIN's 5 s


def test_sentinels_give_a_sentinel_pool_for_the_named_master():
    host = host_kwargs(sentinels=["s1.example:26379", "s2.example:26380"], sentinel_master="m")
    assert host["sentinels"] == [("s1.example", 26379), ("s2.example", 26380)]
    pool = create_pool(host)
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "m"


@pytest.mark.parametrize(
    "overrides",
    [{"sentinels": ["s1:26379"]}, {"sentinels": ["no-port"], "sentinel_master": "m"}],
)
def test_a_wrong_sentinel_setting_is_refused_at_start(overrides):
    with pytest.raises(ImproperlyConfigured):
        host_kwargs(**overrides)


def test_json_log_lines_carry_the_request_fields():
    record = logging.LogRecord("numeneon.access", logging.INFO, __file__, 1, "GET /x 200", (), None)
    record.user_id, record.status, record.duration_ms, record.path = 7, 200, 1.5, "/x"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "GET /x 200"
    assert (entry["user_id"], entry["status"], entry["duration_ms"], entry["path"]) == (
        7, 200, 1.5, "/x",
    )  # fmt: skip
    assert entry["level"] == "INFO" and entry["time"].endswith("+00:00")


def test_every_request_is_one_access_line_with_user_and_duration(client_for, alice, caplog):
    with caplog.at_level(logging.INFO, logger="numeneon.access"):
        client_for(alice).get("/api/auth/me/?token=should-not-be-logged")
    [record] = [r for r in caplog.records if r.name == "numeneon.access"]
    assert record.getMessage().startswith("GET /api/auth/me/ 200 user=")
    assert record.user_id == alice.pk and record.duration_ms >= 0
    assert "should-not-be-logged" not in record.getMessage()


def test_cors_answers_the_web_apps_origin_and_no_other(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["http://localhost:5173"]
    preflight = {
        "HTTP_ORIGIN": "http://localhost:5173",
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization, content-type",
    }
    allowed = client.options("/api/messages/", **preflight)
    assert allowed["access-control-allow-origin"] == "http://localhost:5173"
    assert "authorization" in allowed["access-control-allow-headers"]
    refused = client.options(
        "/api/messages/", **{**preflight, "HTTP_ORIGIN": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in refused


def test_development_defaults_allow_the_web_apps_dev_and_preview_servers():
    code = "from django.conf import settings; print(settings.CORS_ALLOWED_ORIGINS)"
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "numeneon.settings"}
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "http://localhost:5173" in result.stdout and "http://localhost:4173" in result.stdout
