"""HTTP through the project's ASGI application (numeneon.handlers.OneHopASGIHandler), in
process: what Daphne hands it, the response it sends back, and the push after commit."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from django.core import signals

from accounts.services import tokens_for
from notifications.models import Notification
from notifications.services import user_group_name
from numeneon.asgi import application
from tests.helpers import http_scope

pytestmark = pytest.mark.django_db(transaction=True)


async def arequest(method: str, path: str, token: str | None = None, body: bytes = b""):
    """(status, headers, body) of one request."""
    app = ApplicationCommunicator(application, http_scope(method, path, token, body))
    await app.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await app.receive_output(10)
    assert start["type"] == "http.response.start"
    chunks = []
    while True:
        message = await app.receive_output(10)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await app.wait(10)
    return start["status"], dict(start["headers"]), b"".join(chunks)


# For sync tests (their fixtures are sync); each call runs on an event loop of its own.
request = async_to_sync(arequest)


def test_a_message_is_stored_answered_and_pushed_after_commit(
    alice, bob, befriend, in_memory_layer
):
    befriend(alice, bob)
    layer = get_channel_layer()
    async_to_sync(layer.group_add)(user_group_name(bob.pk), "bob-socket")
    body = json.dumps({"receiver_id": bob.pk, "content": " hi bob "}).encode()

    status, headers, out = request("POST", "/api/messages/", tokens_for(alice)["access"], body)

    assert status == 201, out
    assert headers[b"Content-Type"] == b"application/json"
    message = json.loads(out)
    assert message["content"] == "hi bob" and message["receiver"]["id"] == bob.pk
    pushed = async_to_sync(layer.receive)("bob-socket")
    frame = json.loads(pushed["text"])
    assert frame["type"] == "new_message" and frame["data"]["id"] == message["id"]
    stored = Notification.objects.get(recipient=bob)
    assert pushed["id"] == frame["id"] == stored.id


def test_errors_keep_the_contract_body(alice):
    status, _, out = request(
        "POST", "/api/messages/", tokens_for(alice)["access"], b'{"receiver_id": '
    )
    assert status == 400
    assert json.loads(out)["code"] == "parse_error"

    status, _, out = request("GET", "/api/auth/me/", "not-a-token")
    assert status == 401
    assert json.loads(out)["code"] == "token_not_valid"


def test_requests_run_on_reused_pool_threads_with_the_connection_given_back(alice):
    """Django's own ASGI handler starts a thread per request; this one reuses the pool's,
    and every request still ends with request_finished (which returns the connection)."""
    threads: list[threading.Thread] = []
    finished: list[threading.Thread] = []

    def on_started(**kwargs):
        threads.append(threading.current_thread())

    def on_finished(**kwargs):
        finished.append(threading.current_thread())

    signals.request_started.connect(on_started)
    signals.request_finished.connect(on_finished)
    token = tokens_for(alice)["access"]

    @async_to_sync
    async def forty_requests():  # on one event loop, as in a server process
        return [await arequest("GET", "/api/auth/me/", token) for _ in range(40)]

    try:
        answers = forty_requests()
    finally:
        signals.request_started.disconnect(on_started)
        signals.request_finished.disconnect(on_finished)

    assert [status for status, _, _ in answers] == [200] * 40
    # request_finished (it gives the database connection back) ran on the request's thread.
    assert finished == threads
    assert threading.main_thread() not in threads
    # The loop's default pool has min(32, cpus + 4) threads at most.
    assert len(set(threads)) <= 36


def test_a_static_file_streams_whole():
    expected = (Path(__file__).parent.parent / "clients" / "numeneon-realtime.js").read_bytes()
    status, headers, out = request("GET", "/static/numeneon-realtime.js")
    assert status == 200
    assert out == expected
    assert int(headers[b"Content-Length"]) == len(expected)


async def test_a_client_gone_before_its_body_gets_no_response():
    app = ApplicationCommunicator(application, http_scope("POST", "/api/auth/login/"))
    await app.send_input({"type": "http.request", "body": b"{", "more_body": True})
    await app.send_input({"type": "http.disconnect"})
    await app.wait(10)  # returns, raises nothing
    assert await app.receive_nothing()
