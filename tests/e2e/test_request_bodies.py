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


def post_chunked(
    server, token: str, chunks: int, chunk_size: int = 64 * 1024, first: bytes = b""
) -> tuple[bytes, dict]:
    """POST /api/messages/ with a chunked body: `first`, then `chunks` chunks of spaces; the
    status line and the JSON body answered. Sending stops once an answer has arrived."""
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
        chunk = b"%x\r\n%s\r\n" % (chunk_size, b" " * chunk_size)
        sock.setblocking(False)
        answer = b""
        for _ in range(chunks):
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
    chunks = 150 * 1024 * 1024 // (64 * 1024)  # up to 150 MB
    status, body = post_chunked(server, alice.token, chunks)
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


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(servers):
    server = servers("bodies")
    url = urlsplit(server.http_url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(
            (
                f"POST /api/auth/login/ HTTP/1.1\r\nHost: {url.netloc}\r\n"
                "Content-Type: application/json\r\nContent-Length: 157286400\r\n\r\n"
            ).encode()
        )
        answer = sock.recv(65536)  # answered at once: nothing of the body was sent
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body)["code"] == "request_too_large"


def test_a_chunked_body_under_the_limit_reaches_the_application(servers):
    server = servers("bodies")
    alice = Person(server, "alice")
    message = json.dumps({"receiver_id": 2**62, "content": "hi"}).encode()
    status, body = post_chunked(server, alice.token, chunks=2, chunk_size=1024, first=message)
    assert status == b"HTTP/1.1 404 Not Found", body  # the application read it: no such user
    assert body["code"] == "user_not_found"
