"""Assertions shared by the test suites."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext


def assert_error(response, status: int, code: str) -> dict:
    """The contract's error body: `detail` and `error` carry the same text, plus a `code`."""
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert body["error"] == body["detail"], body
    return body


def summary(user) -> dict:
    """A user summary written out by hand, so that a test does not trust the code under test
    (accounts.selectors.user_summary)."""
    return {
        "id": user.pk,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


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
