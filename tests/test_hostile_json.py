"""Hostile input in JSON bodies and queries. Nesting deep enough to make Python's decoder
recurse is a 400 with the contract's body on every endpoint that reads a body, and ignored
(never a 500) by the others; numbers are plain ASCII digits."""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.exceptions import ValidationError

from numeneon.fields import LimitField
from numeneon.limits import MAX_JSON_DEPTH
from numeneon.parsers import json_depth_exceeds
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def write_operations() -> list[tuple[str, str, bool]]:
    """(method, path with ids filled in, whether the operation reads a body)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method, re.sub(r"\{[^}]+\}", "1", path), "requestBody" in operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("post", "put", "patch")
    )


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(("method", "path", "reads_body"), write_operations())
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_json_nested_too_deep_is_a_400_wherever_a_body_is_read(
    client_for, alice, method, path, reads_body, depth
):
    body = '{"refresh": "x", "content": ' + nested(depth) + "}"
    response = client_for(alice).generic(
        method.upper(), path, body, content_type="application/json"
    )
    if reads_body:
        error = assert_error(response, 400, "parse_error")
        assert str(MAX_JSON_DEPTH) in error["detail"]
    else:
        assert response.status_code < 500
        assert response.json().get("code") != "parse_error"


def test_json_nested_as_deep_as_allowed_is_parsed(client_for, alice):
    body = '{"receiver_id": ' + nested(MAX_JSON_DEPTH - 1) + ', "content": "hi"}'
    response = client_for(alice).generic(
        "POST", "/api/messages/", body, content_type="application/json"
    )
    # Parsed, then refused by the serializer for what it is: not an id.
    assert_error(response, 400, "validation_error")


@pytest.mark.parametrize(
    ("data", "deeper_than_2"),
    [
        (1, False),
        ("a string", False),
        ([], False),
        ([[1]], False),
        ({"a": {"b": 1}}, False),
        ([[[]]], True),
        ({"a": [{"b": 1}]}, True),
        ([1, [2], {"x": [3, [4]]}], True),
    ],
)
def test_json_depth_counts_arrays_and_objects_anywhere(data, deeper_than_2):
    assert json_depth_exceeds(data, 2) is deeper_than_2


@pytest.mark.parametrize("digits", ["\u0661\u0662", "\uff11", "\u0967", "1\u0662"])
def test_numbers_in_queries_and_bodies_are_ascii_digits_only(client_for, alice, bob, digits):
    client = client_for(alice)
    for path, query in [
        ("/api/notifications/", {"after": digits}),
        ("/api/notifications/", {"limit": digits}),
        (f"/api/messages/conversation/{bob.pk}/", {"before": digits}),
        (f"/api/messages/conversation/{bob.pk}/", {"limit": digits}),
    ]:
        response = client.get(path, query)
        assert_error(response, 400, "validation_error")
        assert list(response.json()["errors"]) == list(query)
    response = client.post("/api/messages/", {"receiver_id": digits, "content": "hi"}, "json")
    assert assert_error(response, 400, "validation_error")["errors"].keys() == {"receiver_id"}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{", "The body is not valid JSON (line 1, column 2)."),
        (b'{"a": 1,\n "b": }', "The body is not valid JSON (line 2, column 7)."),
        (b"\xff\xfe{}", "The body is not valid JSON."),
        (b"NaN", "The body is not valid JSON."),
    ],
)
def test_a_body_that_is_not_json_says_where_without_the_decoders_words(
    client_for, alice, body, detail
):
    response = client_for(alice).generic(
        "POST", "/api/messages/", body, content_type="application/json"
    )
    assert assert_error(response, 400, "parse_error")["detail"] == detail


@pytest.mark.parametrize(
    ("given", "limit"),
    [("1", 1), (7, 7), ("50", 50), ("51", 50), (10**30, 50), ("9" * 19, 50), ("9" * 500, 50)],
)
def test_a_limit_of_any_number_of_digits_above_the_maximum_is_capped(given, limit):
    assert LimitField(maximum=50, default=20).run_validation(given) == limit


@pytest.mark.parametrize("given", ["0", -1, "-1", "1.5", 1.5, True, "\uff15", "", " ", None])
def test_a_limit_that_is_not_a_positive_integer_is_refused(given):
    with pytest.raises(ValidationError):
        LimitField(maximum=50, default=20).run_validation(given)
