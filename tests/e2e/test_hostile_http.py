"""Hostile HTTP over a real Daphne: every method on every route, and log lines a request
tries to forge."""

from __future__ import annotations

import asyncio
import http.client
import re
from urllib.parse import urlsplit

import pytest
import websockets
from django.urls import URLResolver, get_resolver

from tests.e2e.servers import Person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND", "X"]


def route_paths(resolver=None, prefix: str = "") -> set[str]:
    """One concrete path per route of the URLconf (parameters filled with `1`)."""
    paths = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            paths |= route_paths(pattern, route)
            continue
        route = re.sub(r"<[^>]+>|\(\?P<[^>]+>[^)]*\)", "1", route)
        paths.add("/" + re.sub(r"[\^$]|\\Z", "", route))
    return paths


def request(server, method: str, path: str, token: str, body: bytes = b"{}") -> int:
    url = urlsplit(server.http_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        connection.request(method, path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_every_method_on_every_route_answers_without_a_5xx(servers):
    server = servers("methods", THROTTLE_ENABLED="0")
    alice = Person(server, "alice")
    paths = sorted(route_paths())
    assert "/api/docs/" in paths and "/api/friends/accept/1/" in paths and len(paths) > 40
    failures = [
        (method, path, status)
        for path in paths
        for method in METHODS
        if (status := request(server, method, path, alice.token)) >= 500
    ]
    assert failures == []
    assert "Traceback" not in server.log()


async def test_a_request_cannot_write_a_log_line_of_its_own(servers):
    server = servers("forged-logs")
    alice = Person(server, "alice")
    forged = "2026-12-07 00:00:00,000 ERROR numeneon forged"
    quoted = forged.replace(" ", "%20")
    for raw in ("%0A", "%0D%0A", "%E2%80%A8", "%1B[2K%0D"):
        path = f"/api/{raw}{quoted}/"
        assert await asyncio.to_thread(request, server, "GET", path, alice.token) == 404
    log = server.log()
    assert "ERROR numeneon forged" in log  # it was logged: escaped, within its own line
    for line in log.splitlines():
        assert not line.startswith(forged), line
        assert "\x1b" not in line and "\u2028" not in line
    assert "/api/\\nERROR" not in log and "/api/\\n2026-12-07" in log


@pytest.mark.parametrize("path", ["/", "/ws/", "/ws/notifications", "/ws/other/", "/api/auth/me/"])
async def test_a_socket_to_an_unknown_path_is_refused_with_403_not_a_500(server_a, path):
    alice = Person(server_a, "alice")
    start = len(server_a.log())
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{server_a.ws_url}{path}?token={alice.token}", open_timeout=5)
    assert refused.value.response.status_code == 403
    assert "Traceback" not in server_a.log()[start:]
