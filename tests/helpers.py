"""Assertions and readers shared by the test suites (the fixtures are in the root conftest)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.e2e.servers import DEFAULT_TEST_REDIS_URL

# The Redis the unit tests that need one talk to (the e2e tests start their own servers on it).
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)


def assert_error(response, status: int, code: str) -> dict:
    """The contract's error body: `detail` and `error` carry the same text, plus a `code`."""
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert body["error"] == body["detail"], body
    return body


def assert_iso_utc(value, expected: datetime | None = None) -> None:
    """ISO-8601 in UTC with a Z, as the contract writes times; naming `expected`'s instant when
    one is given."""
    assert isinstance(value, str) and value.endswith("Z"), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset().total_seconds() == 0
    if expected is not None:
        assert parsed == expected


def access_token(user, seconds: float) -> str:
    """An access token of `user` that expires `seconds` from now (already, when negative)."""
    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=seconds))
    return str(token)


def bearer(token: str):
    """An API client that sends `token` as its bearer token."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def summary(user) -> dict:
    """A user summary written out by hand, so that a test does not trust the code under test
    (accounts.selectors.user_summary)."""
    return {
        "id": user.pk,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


def friend_accepted(request_id: int, accepter) -> dict:
    """The data of the friend_accepted event that `accepter` causes (its schema test,
    notifications/tests/test_events.py, writes the message out)."""
    return {
        "request_id": request_id,
        "from_user": summary(accepter),
        "friend": summary(accepter),
        "message": f"{accepter.username} accepted your friend request.",
    }


# A user's profile before they edit it (CONTRACT.md's profile object).
EMPTY_PROFILE = {"bio": "", "avatar": None, "location": "", "website": ""}


def profile_user(user, picture: str | None = None) -> dict:
    """A "profile user" (CONTRACT.md): a user summary plus the avatar URL or None."""
    return {**summary(user), "profile_picture": picture}


def unique(name: str) -> str:
    """A username no earlier test took, for tests that share a database they do not empty."""
    return f"{name}{uuid.uuid4().hex[:6]}"


def are_friends(a, b) -> bool:
    from friends.models import Friendship, ordered_pair

    low, high = ordered_pair(a.pk, b.pk)
    return Friendship.objects.filter(user_low_id=low, user_high_id=high).exists()


def events_for(user, event_type: str | None = None) -> list:
    """The events stored for `user`, oldest first, of one type if `event_type` is given."""
    from notifications.models import Notification

    events = Notification.objects.filter(recipient=user).order_by("id")
    if event_type is not None:
        events = events.filter(type=event_type)
    return list(events)


def store_events(user, count: int, event_type) -> list:
    """`count` events of one type stored for `user` with notify(), each data naming its number."""
    from notifications.services import notify

    return [
        notify(recipient_id=user.pk, event_type=event_type, data={"n": n}) for n in range(count)
    ]


async def established(communicator, timeout: float = 3) -> dict:
    """The first frame of an in-process socket, which must be connection_established."""
    frame = await communicator.receive_json_from(timeout=timeout)
    assert frame["type"] == "connection_established", frame
    return frame


async def closed_with(communicator, timeout: float = 3) -> int:
    """The close code of an in-process socket the server closes next."""
    output = await communicator.receive_output(timeout=timeout)
    assert output["type"] == "websocket.close", output
    return output["code"]


def wait_until(condition, timeout: float, what: str = "condition not met in time") -> None:
    """Poll `condition()` until it is true; fail saying `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def http_scope(
    method: str, path: str, token: str | None = None, body: bytes = b"", host: str = "testserver"
) -> dict:
    """The ASGI scope an HTTP server hands the application for one request (the in-process
    tests of numeneon.handlers and bench.request_cost call the application with it)."""
    headers = [(b"host", host.encode()), (b"content-length", str(len(body)).encode())]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if body:
        headers.append((b"content-type", b"application/json"))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def statements(run) -> tuple[object, list[str]]:
    """What `run()` returns and the SQL statements it ran, without transaction control (which
    differs between SQLite and PostgreSQL, and between test isolation modes)."""
    with CaptureQueriesContext(connection) as captured:
        result = run()
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")
    sqls = [q["sql"] for q in captured.captured_queries]
    return result, [sql for sql in sqls if not sql.upper().startswith(control)]


def nothing_arrives(layer, channel: str) -> bool:
    """True when no message reaches `channel` of a channel layer within a short wait."""

    async def wait() -> bool:
        try:
            await asyncio.wait_for(layer.receive(channel), timeout=0.2)
        except TimeoutError:
            return True
        return False

    return async_to_sync(wait)()
