"""End to end: per-client throttles count the address the trusted proxy appended to
X-Forwarded-For, never an entry the client wrote (a real Daphne, limits in a real Redis)."""

from __future__ import annotations

import http.client
import json
import secrets
import uuid
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

THROTTLED = {"THROTTLE_ENABLED": "1", "THROTTLE_LOGIN": "3/minute"}


def some_address() -> str:
    """An address of the documentation range in a /64 of its own, new for every run (the limits
    live in Redis, and an IPv6 client counts by its /64)."""
    return f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"


def same_network(address: str) -> str:
    """Another address in `address`'s /64."""
    return address.replace("::1", f"::{secrets.token_hex(2)}")


def login_status(server, forwarded_for: str | None) -> int:
    url = urlsplit(server.http_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    body = json.dumps({"username": "nobody", "password": "not-the-password-1"})
    try:
        connection.request("POST", "/api/auth/login/", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_behind_the_proxy_a_client_rotating_its_own_entries_is_still_throttled(servers):
    # The test is the proxy: it connects from 127.0.0.1 (trusted by default) and appends the
    # peer it "saw"; the entries before it are what the client wrote, new on every request.
    server = servers("behind-proxy", **THROTTLED)
    client, neighbour = some_address(), some_address()
    statuses = [login_status(server, f"{some_address()}, {client}") for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    # Another client behind the same proxy has a limit of its own; rotating through one's own
    # IPv6 /64 does not make a new client.
    assert login_status(server, f"{client}, {neighbour}") == 401
    assert login_status(server, same_network(client)) == 429


def test_a_direct_connections_forwarded_for_header_is_ignored(servers):
    # No trusted network: every peer is a client itself, whatever header it sends.
    server = servers(
        "direct",
        TRUSTED_PROXY_NETWORKS="",
        CHANNEL_LAYER_PREFIX=f"direct-{uuid.uuid4().hex[:8]}",  # a 127.0.0.1 limit of its own
        **THROTTLED,
    )
    statuses = [login_status(server, some_address()) for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert login_status(server, None) == 429
