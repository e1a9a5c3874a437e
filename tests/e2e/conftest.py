"""Session-wide real servers: two Daphne processes sharing one Redis and the test database."""

from __future__ import annotations

import io
import os
import uuid

import pytest
import redis
from django.core.management import call_command

from tests.e2e.servers import DEFAULT_TEST_REDIS_URL, DaphneServer, database_env


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    # Fail loudly rather than skip: these tests are the proof that pushes cross processes.
    redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    return url


@pytest.fixture(scope="session")
def server_env(django_db_setup, redis_url) -> dict[str, str]:
    from django.db import connection

    return {
        **database_env(connection.settings_dict),
        "REDIS_URL": redis_url,
        # A prefix of its own: nothing from another run or suite reaches these servers.
        "CHANNEL_LAYER_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}",
        "DEBUG": "0",
        # The servers' logs are part of what is tested (no credential may reach them).
        "LOG_LEVEL": "INFO",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Push set up, as in production: without keys the key endpoint's 503
        # `push_not_configured` is the contract, which the every-route checks would flag.
        **vapid_env(),
    }


def vapid_env() -> dict[str, str]:
    out = io.StringIO()
    call_command("generate_vapid_keys", stdout=out)
    pairs = (line.split("  #")[0].split("=", 1) for line in out.getvalue().splitlines())
    return {name: value for name, value in pairs if name.startswith("VAPID_")}


@pytest.fixture(scope="session")
def servers(server_env, tmp_path_factory):
    """Starts Daphne processes on demand by name; all are stopped at the end of the session."""
    started: dict[str, DaphneServer] = {}
    log_dir = tmp_path_factory.mktemp("daphne")

    def get(name: str = "a", **extra_env: str) -> DaphneServer:
        if name not in started:
            started[name] = DaphneServer(name, {**server_env, **extra_env}, log_dir).start()
        return started[name]

    yield get
    for server in started.values():
        server.stop()


@pytest.fixture
def server_a(servers) -> DaphneServer:
    return servers("a")


@pytest.fixture
def server_b(servers) -> DaphneServer:
    return servers("b")
