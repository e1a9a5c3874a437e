"""The OpenAPI schema: valid, complete against the contract, every answer and error described,
and served with Swagger UI from our own static files. tests/e2e/test_schemathesis.py checks
it against a live server."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from django.test import Client
from drf_spectacular.generators import EndpointEnumerator

# Every operation of docs/CONTRACT.md, and whether it takes a bearer token.
CONTRACT_OPERATIONS = {
    ("post", "/api/auth/signup/"): False,
    ("post", "/api/auth/login/"): False,
    ("post", "/api/auth/token/refresh/"): False,
    ("post", "/api/auth/logout/"): True,
    ("get", "/api/auth/me/"): True,
    ("patch", "/api/auth/profile/"): True,
    ("get", "/api/auth/search/"): True,
    ("get", "/api/auth/users/{username}/"): True,
    ("post", "/api/auth/ws-ticket/"): True,
    ("get", "/api/friends/"): True,
    ("get", "/api/friends/suggestions/"): True,
    ("get", "/api/friends/requests/"): True,
    ("get", "/api/friends/requests/sent/"): True,
    ("post", "/api/friends/request/{user_id}/"): True,
    ("post", "/api/friends/accept/{request_id}/"): True,
    ("post", "/api/friends/decline/{request_id}/"): True,
    ("delete", "/api/friends/cancel/{user_id}/"): True,
    ("delete", "/api/friends/remove/{user_id}/"): True,
    ("post", "/api/messages/"): True,
    ("get", "/api/messages/conversations/"): True,
    ("get", "/api/messages/conversation/{user_id}/"): True,
    ("post", "/api/messages/conversation/{user_id}/read/"): True,
    ("post", "/api/messages/read_all/"): True,
    ("get", "/api/messages/unread_count/"): True,
    ("get", "/api/notifications/"): True,
    ("get", "/api/notifications/unread_count/"): True,
    ("post", "/api/notifications/read/"): True,
    ("get", "/api/notifications/vapid-public-key/"): True,
    ("post", "/api/notifications/subscribe/"): True,
    ("post", "/api/notifications/unsubscribe/"): True,
}

# Error statuses the contract names for each operation (beyond 400 and 401, which all have).
CONTRACT_ERRORS = {
    ("post", "/api/auth/login/"): {401, 429},
    ("post", "/api/auth/signup/"): {429},
    ("post", "/api/auth/token/refresh/"): {401},
    ("get", "/api/auth/users/{username}/"): {404},
    ("post", "/api/auth/ws-ticket/"): {429},
    ("post", "/api/friends/request/{user_id}/"): {404},
    ("post", "/api/friends/accept/{request_id}/"): {403, 404},
    ("post", "/api/friends/decline/{request_id}/"): {403, 404},
    ("delete", "/api/friends/cancel/{user_id}/"): {404},
    ("delete", "/api/friends/remove/{user_id}/"): {404},
    ("post", "/api/messages/"): {403, 404, 429},
    ("get", "/api/messages/conversation/{user_id}/"): {404},
    ("post", "/api/messages/conversation/{user_id}/read/"): {404},
    ("post", "/api/messages/read_all/"): {404},
    ("get", "/api/notifications/vapid-public-key/"): {503},
    ("post", "/api/notifications/unsubscribe/"): {404},
}

ERROR_SCHEMAS = {"#/components/schemas/Error", "#/components/schemas/BadRequestError"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    """Generated as CI would: any warning fails, and the result is validated as OpenAPI 3."""
    path = tmp_path_factory.mktemp("openapi") / "schema.json"
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", path
    )
    return json.loads(path.read_text())


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield (method, path), operation


def resolve(schema: dict, node: dict) -> dict:
    """A schema with its references followed (a field with a description wraps its
    component's reference in a one-item `allOf`)."""
    while "$ref" in node or len(node.get("allOf", [])) == 1:
        if "allOf" in node:
            node = node["allOf"][0]
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def test_the_schema_is_openapi_3_and_lists_every_contract_operation_and_no_other(schema):
    assert schema["openapi"].startswith("3.")
    assert {key for key, _ in operations(schema)} == set(CONTRACT_OPERATIONS)


def test_authenticated_operations_take_a_bearer_jwt_and_document_401(schema):
    assert schema["components"]["securitySchemes"] == {
        "jwtAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    for key, operation in operations(schema):
        if CONTRACT_OPERATIONS[key]:
            assert operation.get("security") == [{"jwtAuth": []}], key
            assert "401" in operation["responses"], key
        else:
            assert not operation.get("security"), key


def test_every_error_status_of_the_contract_is_documented_with_the_error_body(schema):
    for key, operation in operations(schema):
        responses = operation["responses"]
        expected = {400} | CONTRACT_ERRORS.get(key, set())
        if CONTRACT_OPERATIONS[key]:
            expected.add(401)
        documented = {int(status) for status in responses if int(status) >= 400}
        assert expected <= documented, (key, expected - documented)
        for status in documented:
            response = responses[str(status)]
            body = response["content"]["application/json"]["schema"]
            assert body["$ref"] in ERROR_SCHEMAS, (key, status)
            # The description names the machine codes.
            assert re.search(r"`[a-z_]+`", response["description"]), (key, status)


def test_an_operation_documents_429_exactly_when_its_view_is_throttled(schema):
    # openapi.operation(throttled=True) is written by hand beside the view's throttle_scope.
    for path, _, method, callback in EndpointEnumerator().get_api_endpoints():
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is not None:
            throttled = bool(getattr(callback.cls, "throttle_scope", None))
            assert ("429" in operation["responses"]) == throttled, (method, path)


def test_the_error_bodies_are_described_field_by_field(schema):
    components = schema["components"]["schemas"]
    for name in ("Error", "BadRequestError"):
        assert {"detail", "error", "code"} <= set(components[name]["required"]), name
    errors = components["BadRequestError"]["properties"]["errors"]
    assert errors["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
    assert "errors" not in components["BadRequestError"]["required"]


def _assert_described(schema: dict, node: dict, where: str) -> None:
    """Every object in a response body has named, typed, required properties."""
    node = resolve(schema, node)
    if "oneOf" in node:
        for option in node["oneOf"]:
            _assert_described(schema, option, where)
        return
    if node.get("type") == "array":
        _assert_described(schema, node["items"], where)
        return
    if node.get("type") == "object" or "properties" in node:
        assert node.get("properties"), where
        for name, prop in node["properties"].items():
            assert "type" in resolve(schema, prop), f"{where}.{name}"
            if name != "friend":  # only when a request was accepted instead of sent
                assert name in node.get("required", []), f"{where}.{name} is not required"
            _assert_described(schema, prop, f"{where}.{name}")


def test_every_success_answer_is_described_field_by_field(schema):
    for key, operation in operations(schema):
        successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        assert len(successes) == 1, key
        (status, response), *_ = successes.items()
        if key == ("post", "/api/auth/logout/"):
            assert status == "205" and "content" not in response
            continue
        _assert_described(schema, response["content"]["application/json"]["schema"], str(key))


def test_contract_shapes_are_the_documented_ones(schema):
    components = schema["components"]["schemas"]

    def fields(name: str) -> set[str]:
        return set(components[name]["properties"])

    assert fields("UserSummary") == {"id", "username", "first_name", "last_name"}
    assert fields("PrivateUser") == {"id", "username", "first_name", "last_name", "email"}
    assert fields("UserWithPicture") == {
        "id",
        "username",
        "first_name",
        "last_name",
        "profile_picture",
    }
    profile_user = {
        "id",
        "username",
        "first_name",
        "last_name",
        "profile_picture",
        "date_joined",
        "profile",
    }
    assert fields("ProfileUser") == profile_user
    assert fields("Me") == profile_user | {"email"}
    assert fields("Profile") == {"bio", "avatar", "location", "website"}
    assert fields("Suggestion") == fields("UserWithPicture") | {"mutual_friends_count"}
    assert fields("Message") == {"id", "sender", "receiver", "content", "is_read", "created_at"}
    assert fields("Conversation") == {"user", "last_message", "unread_count"}
    assert fields("SignupResponse") == {"message", "user", "access", "refresh"}
    assert fields("LoginResponse") == {"access", "refresh", "user"}
    assert fields("WsTicket") == {"ticket", "expires_in"}
    event_types = components["Event"]["discriminator"]["mapping"]
    assert set(event_types) == {
        "friend_request",
        "friend_accepted",
        "new_message",
        "messages_read",
        "friend_request_declined",
        "friend_request_cancelled",
        "friend_removed",
        "message_sent",
    }
    for event_type, ref in event_types.items():
        event = resolve(schema, {"$ref": ref})
        assert set(event["properties"]) == {"type", "id", "created_at", "data", "read_at"}
        assert resolve(schema, event["properties"]["type"])["enum"] == [event_type]

    def data_fields(event_type: str) -> set[str]:
        data = resolve(schema, {"$ref": event_types[event_type]})["properties"]["data"]
        return set(resolve(schema, data)["properties"])

    assert data_fields("new_message") == data_fields("message_sent") == {
        "from_user", "message", "id", "sender", "receiver", "content", "is_read", "created_at"
    }  # fmt: skip
    assert data_fields("friend_accepted") == {"request_id", "from_user", "friend", "message"}
    assert data_fields("friend_request_declined") == {"request_id", "by"}
    assert data_fields("friend_request_cancelled") == {"request_id", "from_user"}
    assert data_fields("friend_removed") == {"user"}


def test_query_parameters_and_request_bodies_are_documented(schema):
    def query(key: tuple[str, str]) -> dict[str, bool]:
        operation = schema["paths"][key[1]][key[0]]
        return {p["name"]: p.get("required", False) for p in operation.get("parameters", [])}

    assert query(("get", "/api/auth/search/")) == {"q": False}
    assert query(("get", "/api/messages/conversation/{user_id}/")) == {
        "user_id": True,
        "before": False,
        "limit": False,
    }
    assert query(("post", "/api/messages/read_all/")) == {"user_id": True}
    assert query(("get", "/api/friends/suggestions/")) == {"limit": False}
    assert query(("get", "/api/notifications/")) == {"after": False, "limit": False}

    def body(key: tuple[str, str]) -> set[str]:
        content = schema["paths"][key[1]][key[0]]["requestBody"]["content"]
        return set(resolve(schema, content["application/json"]["schema"])["properties"])

    assert body(("post", "/api/auth/signup/")) == {"username", "email", "password", "display_name"}
    assert body(("post", "/api/auth/login/")) == {"username", "email", "password"}
    assert body(("post", "/api/auth/token/refresh/")) == {"refresh"}
    assert body(("post", "/api/auth/logout/")) == {"refresh"}
    assert body(("patch", "/api/auth/profile/")) == {
        "bio", "location", "website", "avatar", "first_name", "last_name"
    }  # fmt: skip
    assert body(("post", "/api/messages/")) == {"receiver_id", "content"}
    assert body(("post", "/api/notifications/read/")) == {"ids", "up_to"}


def test_the_description_documents_the_websocket_protocol(schema):
    description = schema["info"]["description"]
    for needle in (
        "/ws/notifications/",
        "?ticket=",
        "?token=",
        "last_event_id",
        "connection_established",
        "replay_complete",
        '"recovered": false',
        "friend_request",
        "friend_accepted",
        "new_message",
        "messages_read",
        "friend_request_declined",
        "friend_request_cancelled",
        "friend_removed",
        "message_sent",
        '{"type": "ping"}',
        '{"type": "pong"}',
        '"ack"',
        "invalid_json",
        "bad_frame",
        "unknown_type",
        "Origin",
    ):
        assert needle in description, needle
    for code in (4001, 4002, 4003, 4008, 4009, 1009, 1012, 1013):
        assert f"**{code}**" in description, code


def test_the_schema_and_swagger_ui_are_served_without_a_cdn():
    client = Client()
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert json.loads(response.content)["openapi"].startswith("3.")

    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in url for url in assets), assets
    for url in assets:
        assert url.startswith("/"), f"{url} is not served by this backend"
        if url.startswith("/static/"):
            asset = client.get(url)
            assert asset.status_code == 200, url
            b"".join(asset.streaming_content if asset.streaming else [asset.content])
