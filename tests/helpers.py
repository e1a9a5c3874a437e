"""Assertions shared by the test suites."""

from __future__ import annotations


def assert_error(response, status: int, code: str) -> dict:
    """The contract's error body: `detail` and `error` carry the same text, plus a `code`."""
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert body["error"] == body["detail"], body
    return body
