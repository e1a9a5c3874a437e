"""End to end: a client that never finishes its request headers is dropped within seconds,
while a kept-alive connection that is merely idle between requests is not; and the server
has raised its descriptor limit."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HEADERS_TIMEOUT = 2.0
BODY_TIMEOUT = 3.0


@pytest.fixture
def server(servers):
    return servers(
        "slow-clients",
        HTTP_HEADERS_TIMEOUT=str(HEADERS_TIMEOUT),
        HTTP_BODY_TIMEOUT=str(BODY_TIMEOUT),
    )


def connect(server) -> socket.socket:
    url = urlsplit(server.http_url)
    return socket.create_connection((url.hostname, url.port), timeout=10)


def dropped_after(sock: socket.socket, dribble: bytes, limit: float = 8.0) -> float:
    """Sends `dribble` a byte every 0.5 s until the server drops the connection; seconds."""
    started = time.monotonic()
    sock.settimeout(0.5)
    for byte in dribble:
        try:
            sock.sendall(bytes([byte]))
            if sock.recv(4096) == b"":
                break
        except TimeoutError:
            pass
        except OSError:
            break
        if time.monotonic() - started > limit:
            pytest.fail("the slow client was never dropped")
    return time.monotonic() - started


def test_headers_sent_a_byte_at_a_time_are_cut_off_at_the_deadline(server):
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        seconds = dropped_after(sock, b"X-Slow: " + b"a" * 100)
    assert HEADERS_TIMEOUT - 0.6 < seconds < HEADERS_TIMEOUT + 1.5


@pytest.mark.parametrize(
    "framing",
    ["Content-Length: 2000", "Transfer-Encoding: chunked"],
)
def test_a_body_sent_a_byte_at_a_time_is_cut_off_at_its_deadline(server, framing):
    with connect(server) as sock:
        sock.sendall(
            f"POST /api/auth/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\n{framing}\r\n\r\n".encode()
        )
        body = b"1\r\n{\r\n" * 100 if "chunked" in framing else b"{" * 100
        seconds = dropped_after(sock, body)
    assert BODY_TIMEOUT - 0.6 < seconds < BODY_TIMEOUT + 1.5


def test_a_connection_that_never_sends_a_request_line_is_cut_off(server):
    with connect(server) as sock:
        seconds = dropped_after(sock, b"G" * 100)
    assert seconds < HEADERS_TIMEOUT + 1.5


def test_a_kept_alive_connection_idle_past_the_deadline_still_serves_its_next_request(server):
    request = b"GET /api/auth/me/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with connect(server) as sock:
        for _ in range(2):
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 401 ")
            time.sleep(HEADERS_TIMEOUT + 0.5)  # idle between requests is not slow headers


def test_the_server_runs_with_its_descriptor_limit_raised_to_the_hard_limit(server):
    limits = Path(f"/proc/{server.pid}/limits").read_text()
    line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    assert soft == hard, line
