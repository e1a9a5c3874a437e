"""End to end: request bodies over the size limit, declared or chunked, are refused as soon as
they pass it, with the contract's body, and the server's memory does not grow with them."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from numeneon.limits import MAX_REQUEST_BODY_BYTES
from tests.e2e.servers import Person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def peak_rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])


def spaces(size: int = 64 * 1024) -> bytes:
    """One chunk of white space (valid around JSON), framed."""
    return b"%x\r\n%s\r\n" % (size, b" " * size)


def post_chunked(
    server, token: str, chunk: bytes, count: int, first: bytes = b""
) -> tuple[bytes, dict]:
    """POST /api/messages/ with a chunked body: `first`, then `chunk` (framed already) `count`
    times; the status line and the JSON body answered. Sending stops once an answer came."""
    url = urlsplit(server.http_url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            (
                f"POST /api/messages/ HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
            ).encode()
            + (b"%x\r\n%s\r\n" % (len(first), first) if first else b"")
        )
        sock.setblocking(False)
        answer = b""
        for _ in range(count):
            try:
                answer += sock.recv(65536)
                break
            except BlockingIOError:
                pass
            try:
                sock.sendall(chunk)
            except BlockingIOError:
                pass
        sock.setblocking(True)
        if not answer:
            sock.sendall(b"0\r\n\r\n")
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], json.loads(body)


def test_a_chunked_body_over_the_limit_is_refused_once_past_it_and_memory_stays_flat(servers):
    server = servers("bodies")
    alice = Person(server, "alice")
    before = peak_rss_kb(server.pid)
    status, body = post_chunked(server, alice.token, spaces(), count=150 * 16)  # up to 150 MB
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert body == {
        "detail": f"The request body is larger than {MAX_REQUEST_BODY_BYTES} bytes.",
        "error": f"The request body is larger than {MAX_REQUEST_BODY_BYTES} bytes.",
        "code": "request_too_large",
    }
    grown_mb = (peak_rss_kb(server.pid) - before) / 1024
    assert grown_mb < 10, f"peak memory grew by {grown_mb:.1f} MB"
    # The server goes on serving.
    status, me = alice.api.get("/api/auth/me/")
    assert status == 200 and me["id"] == alice.id


@pytest.mark.parametrize("expect", ["", "Expect: 100-continue\r\n"])
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(servers, expect):
    server = servers("bodies")
    url = urlsplit(server.http_url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(
            (
                f"POST /api/auth/login/ HTTP/1.1\r\nHost: {url.netloc}\r\n{expect}"
                "Content-Type: application/json\r\nContent-Length: 157286400\r\n\r\n"
            ).encode()
        )
        answer = b""  # answered at once, nothing of the body sent; and nothing after it
        while data := sock.recv(65536):
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body)["code"] == "request_too_large"  # the whole rest is the JSON


def test_chunk_extensions_do_not_carry_the_wire_past_twice_the_body_limit(servers):
    server = servers("bodies")
    alice = Person(server, "alice")
    before = peak_rss_kb(server.pid)
    # One byte of body per chunk, and a kilobyte of extension that the decoder drops.
    chunk = b"1;" + b"x" * 1000 + b"\r\n \r\n"
    status, body = post_chunked(server, alice.token, chunk, count=20_000)  # 20 MB on the wire
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert body["code"] == "request_too_large"
    assert (peak_rss_kb(server.pid) - before) / 1024 < 10


def test_a_chunked_body_under_the_limit_reaches_the_application(servers):
    server = servers("bodies")
    alice = Person(server, "alice")
    message = json.dumps({"receiver_id": 2**62, "content": "hi"}).encode()
    status, body = post_chunked(server, alice.token, spaces(1024), count=2, first=message)
    assert status == b"HTTP/1.1 404 Not Found", body  # the application read it: no such user
    assert body["code"] == "user_not_found"
