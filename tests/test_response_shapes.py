"""The views answer dicts that selectors and views build by hand (no serializer runs on the
message path); the output serializers only document them. One walk calls every operation and
holds each success body against its documented schema, field by field, so the two agree."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.models import User
from notifications.models import EventType
from notifications.tests.test_push_subscriptions import subscription

pytestmark = pytest.mark.django_db

PASSWORD = "wonderland-42-tea-party"
TYPES = {"integer": int, "string": str, "boolean": bool, "array": list, "object": dict}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def assert_shape(schema: dict, node: dict, value, where: str) -> None:
    """`value` has what `node` describes: every required field, no field it does not name."""
    while "$ref" in node or len(node.get("allOf", [])) == 1:
        node = node["allOf"][0] if "allOf" in node else node
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    if value is None:
        assert node.get("nullable"), f"{where} is null"
        return
    if "oneOf" in node:
        discriminator = node["discriminator"]
        option = {"$ref": discriminator["mapping"][value[discriminator["propertyName"]]]}
        assert_shape(schema, option, value, where)
        return
    expected = TYPES[node.get("type", "object")]
    assert isinstance(value, expected) and not (expected is int and isinstance(value, bool)), (
        where,
        value,
    )
    if "enum" in node:
        assert value in node["enum"], (where, value)
    if expected is list:
        for index, item in enumerate(value):
            assert_shape(schema, node["items"], item, f"{where}[{index}]")
    elif expected is dict and "properties" in node:
        assert set(node.get("required", [])) <= set(value), (where, sorted(value))
        assert set(value) <= set(node["properties"]), (where, sorted(value))
        for name, item in value.items():
            assert_shape(schema, node["properties"][name], item, f"{where}.{name}")


@pytest.fixture
def call(schema):
    """Sends one request and checks its success body against the operation's schema; answers
    the body. `call.seen` holds every (method, path template) called."""
    seen: set[tuple[str, str]] = set()

    def send(client: APIClient, method: str, template: str, data=None, **path) -> dict | list:
        response = getattr(client, method)(template.format(**path), data, format="json")
        assert 200 <= response.status_code < 300, (template, response.status_code, response.data)
        operation = (method, template.split("?")[0])
        answer = schema["paths"][operation[1]][method]["responses"][str(response.status_code)]
        seen.add(operation)
        if "content" not in answer:
            assert not response.content, template
            return {}
        body = response.json()
        assert_shape(schema, answer["content"]["application/json"]["schema"], body, template)
        return body

    send.seen = seen
    return send


def test_every_success_body_has_exactly_the_fields_of_its_serializer(
    schema, call, settings, alice, bob, charlie, client_for, anon
):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = "BPublicKey", "private-key"
    settings.WEB_PUSH_ENABLED = True
    a, b, c = client_for(alice), client_for(bob), client_for(charlie)

    # Accounts.
    dora = {"username": "dora", "email": "dora@example.com", "password": PASSWORD}
    call(anon, "post", "/api/auth/signup/", {**dora, "display_name": "Dora Explorer"})
    tokens = call(anon, "post", "/api/auth/login/", {"email": dora["email"], "password": PASSWORD})
    call(anon, "post", "/api/auth/token/refresh/", {"refresh": tokens["refresh"]})
    d = client_for(User.objects.get(username="dora"))
    call(a, "patch", "/api/auth/profile/", {"bio": "Curious.", "avatar": "https://a.example/a.png"})
    call(a, "get", "/api/auth/me/")
    call(b, "get", "/api/auth/search/?q=a")
    call(b, "get", "/api/auth/users/{username}/", username="alice")
    call(a, "post", "/api/auth/ws-ticket/")

    # Friends: each outcome, and each event a friendship change stores.
    sent = call(b, "post", "/api/friends/request/{user_id}/", user_id=alice.pk)
    call(a, "get", "/api/friends/requests/")
    call(b, "get", "/api/friends/requests/sent/")
    call(a, "post", "/api/friends/accept/{request_id}/", request_id=sent["request"]["id"])
    call(c, "post", "/api/friends/request/{user_id}/", user_id=alice.pk)
    accepted = call(a, "post", "/api/friends/request/{user_id}/", user_id=charlie.pk)
    assert "friend" in accepted  # charlie had asked: accepted instead of sent
    declined = call(d, "post", "/api/friends/request/{user_id}/", user_id=alice.pk)
    call(a, "post", "/api/friends/decline/{request_id}/", request_id=declined["request"]["id"])
    call(d, "post", "/api/friends/request/{user_id}/", user_id=bob.pk)
    call(d, "delete", "/api/friends/cancel/{user_id}/", user_id=bob.pk)
    call(a, "get", "/api/friends/")
    suggestions = call(d, "get", "/api/friends/suggestions/")
    assert suggestions
    call(c, "delete", "/api/friends/remove/{user_id}/", user_id=alice.pk)

    # Messages.
    call(b, "post", "/api/messages/", {"receiver_id": alice.pk, "content": "Hello"})
    call(a, "get", "/api/messages/conversations/")
    call(a, "get", "/api/messages/conversation/{user_id}/", user_id=bob.pk)
    call(a, "get", "/api/messages/unread_count/")
    call(a, "post", "/api/messages/conversation/{user_id}/read/", user_id=bob.pk)
    call(a, "post", "/api/messages/read_all/?user_id={user_id}", user_id=bob.pk)

    # Notifications: every event type in someone's feed.
    types = set()
    for client in (a, b, c, d):
        types |= {event["type"] for event in call(client, "get", "/api/notifications/")}
    assert types == {str(t) for t in EventType}
    call(a, "get", "/api/notifications/unread_count/")
    call(a, "post", "/api/notifications/read/", {"up_to": 2**40})
    call(a, "get", "/api/notifications/vapid-public-key/")
    push = subscription()
    call(a, "post", "/api/notifications/subscribe/", push)
    call(a, "post", "/api/notifications/unsubscribe/", {"endpoint": push["endpoint"]})

    call(d, "post", "/api/auth/logout/", {"refresh": tokens["refresh"]})

    operations = {(m, p) for p, item in schema["paths"].items() for m in item}
    assert call.seen == operations
