"""Schemathesis against a live Daphne: every operation of the OpenAPI schema, with generated
valid and invalid input and a bearer token, answers no 5xx and nothing its own schema does not
describe (status, content type, body, headers); and the contract's flows, walked with real
ids, get the success answers the schema describes."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.servers import Api, Person
from tests.helpers import unique

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
FUZZ_CHECKS = [
    *CONFORMANCE,
    # Input that breaks the schema is refused with a 4xx.
    negative_data_rejection,
    # An operation that documents a bearer token refuses a request without one (401).
    ignored_auth,
]

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
PASSWORD = "wonderland-42-tea-party"


def generated_schema() -> dict:
    """The schema as /api/schema/?format=json serves it (a test below checks that it is)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))


# Loaded at collection, one test per operation. (schemathesis.pytest.from_fixture would load
# it from the live server, but its lazy loader uses a pytest internal that pytest 9 dropped.)
schema = schemathesis.openapi.from_dict(generated_schema())
# The bearer token is sent on every request below; `ignored_auth` checks requests without it.
schema.config.generation.update(with_security_parameters=False)


@dataclass
class Account:
    id: int
    username: str
    token: str
    refresh: str


def bearer(person: Person | Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {person.token}"}


@pytest.fixture
def fuzzer(server_a) -> Person:
    """The user the fuzzer acts as: with a friend, a pending request each way, messages and
    events, so that the lists it reads (conversations, requests, events) are not empty."""
    me, friend, asker, asked = (
        Person(server_a, unique(name)) for name in ("fuzz", "friend", "asker", "asked")
    )
    status, sent = me.api.post(f"/api/friends/request/{friend.id}/")
    assert status == 201, sent
    assert friend.api.post(f"/api/friends/accept/{sent['request']['id']}/")[0] == 201
    assert asker.api.post(f"/api/friends/request/{me.id}/")[0] == 201
    assert me.api.post(f"/api/friends/request/{asked.id}/")[0] == 201
    for content in ("hello", "how are you?"):
        assert (
            friend.api.post("/api/messages/", {"receiver_id": me.id, "content": content})[0] == 201
        )
    assert me.api.post("/api/messages/", {"receiver_id": friend.id, "content": "fine"})[0] == 201
    assert me.api.post(f"/api/messages/conversation/{friend.id}/read/")[0] == 200
    assert friend.api.post(f"/api/messages/conversation/{me.id}/read/")[0] == 200
    return me


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_its_schema_says_to_generated_input(case, server_a, fuzzer):
    case.call_and_validate(
        base_url=server_a.http_url, headers=bearer(fuzzer), checks=FUZZ_CHECKS, timeout=10
    )


def test_the_live_server_serves_the_schema_that_is_fuzzed(server_a):
    status, served = Api(server_a.http_url).get("/api/schema/?format=json")
    assert status == 200
    assert served == generated_schema()


def test_the_contract_flows_get_the_answers_the_schema_describes(server_a):
    """Generated ids rarely name real rows; here every operation's success answer (and a few
    domain errors) is checked against the schema with real ones."""

    def call(person, method, path, expected, **parts):
        case = schema[path][method].Case(**parts)
        headers = bearer(person) if person is not None else None
        response = case.call_and_validate(
            base_url=server_a.http_url, headers=headers, checks=CONFORMANCE, timeout=10
        )
        assert response.status_code == expected, (method, path, response.text)
        return response.json() if response.content else None

    def signup(name: str) -> Account:
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        answer = call(None, "POST", "/api/auth/signup/", 201, body=body)
        return Account(answer["user"]["id"], name, answer["access"], answer["refresh"])

    alice, bob, carol, dave = (signup(unique(name)) for name in ("alice", "bob", "carol", "dave"))

    # Accounts.
    login = {"username": alice.username, "password": PASSWORD}
    alice_refresh = {"refresh": alice.refresh}
    call(None, "POST", "/api/auth/login/", 200, body=login)
    call(None, "POST", "/api/auth/login/", 200, body={**login, "username": alice.username.upper()})
    call(None, "POST", "/api/auth/login/", 401, body={**login, "password": "wrong-password"})
    for _ in range(2):  # the refresh token works until its session logs out
        refreshed = call(None, "POST", "/api/auth/token/refresh/", 200, body=alice_refresh)
        assert refreshed["refresh"] == alice.refresh
    call(alice, "GET", "/api/auth/me/", 200)
    profile = {
        "bio": "Hi",
        "website": "https://a.example.com",
        "avatar": "https://a.example.com/a.png",
    }
    call(alice, "PATCH", "/api/auth/profile/", 200, body=profile)
    call(alice, "PATCH", "/api/auth/profile/", 200, body={"avatar": None})
    call(alice, "PATCH", "/api/auth/profile/", 400, body={"avatar": "http://a.example.com/a.png"})
    call(alice, "PATCH", "/api/auth/profile/", 400, body={"nickname": "al"})
    assert call(alice, "GET", "/api/auth/search/", 200, query={"q": bob.username[:-3]})
    call(
        alice, "GET", "/api/auth/users/{username}/", 200, path_parameters={"username": bob.username}
    )
    call(alice, "GET", "/api/auth/users/{username}/", 404, path_parameters={"username": "nobody"})
    call(alice, "POST", "/api/auth/ws-ticket/", 201)

    # Friends: sent, refused twice, accepted; declined; cancelled; accepted by asking back.
    sent = call(
        alice, "POST", "/api/friends/request/{user_id}/", 201, path_parameters={"user_id": bob.id}
    )
    call(alice, "POST", "/api/friends/request/{user_id}/", 400, path_parameters={"user_id": bob.id})
    call(
        alice, "POST", "/api/friends/request/{user_id}/", 400, path_parameters={"user_id": alice.id}
    )
    assert call(alice, "GET", "/api/friends/requests/sent/", 200)
    assert call(bob, "GET", "/api/friends/requests/", 200)
    request = {"request_id": sent["request"]["id"]}
    call(carol, "POST", "/api/friends/accept/{request_id}/", 403, path_parameters=request)
    call(bob, "POST", "/api/friends/accept/{request_id}/", 201, path_parameters=request)
    call(bob, "POST", "/api/friends/accept/{request_id}/", 404, path_parameters=request)
    assert call(alice, "GET", "/api/friends/", 200)
    call(carol, "GET", "/api/friends/suggestions/", 200)
    call(carol, "GET", "/api/friends/suggestions/", 200, query={"limit": 1})
    call(carol, "GET", "/api/friends/suggestions/", 400, query={"limit": -1})
    asked = call(
        carol, "POST", "/api/friends/request/{user_id}/", 201, path_parameters={"user_id": alice.id}
    )
    call(
        alice,
        "POST",
        "/api/friends/decline/{request_id}/",
        200,
        path_parameters={"request_id": asked["request"]["id"]},
    )
    call(
        alice, "POST", "/api/friends/request/{user_id}/", 201, path_parameters={"user_id": carol.id}
    )
    call(
        alice,
        "DELETE",
        "/api/friends/cancel/{user_id}/",
        200,
        path_parameters={"user_id": carol.id},
    )
    call(
        carol, "POST", "/api/friends/request/{user_id}/", 201, path_parameters={"user_id": alice.id}
    )
    both = call(
        alice, "POST", "/api/friends/request/{user_id}/", 201, path_parameters={"user_id": carol.id}
    )
    assert both["friend"]["id"] == carol.id

    # Messages.
    for content in ("hello bob", "  are you there?  "):
        call(alice, "POST", "/api/messages/", 201, body={"receiver_id": bob.id, "content": content})
    call(alice, "POST", "/api/messages/", 403, body={"receiver_id": dave.id, "content": "hi"})
    call(alice, "POST", "/api/messages/", 400, body={"receiver_id": bob.id, "content": "   "})
    call(alice, "POST", "/api/messages/", 404, body={"receiver_id": 10**15, "content": "hi"})
    assert call(bob, "GET", "/api/messages/conversations/", 200)
    thread = call(
        bob,
        "GET",
        "/api/messages/conversation/{user_id}/",
        200,
        path_parameters={"user_id": alice.id},
        query={"limit": 1},
    )
    call(
        bob,
        "GET",
        "/api/messages/conversation/{user_id}/",
        200,
        path_parameters={"user_id": alice.id},
        query={"before": thread[0]["id"]},
    )
    assert call(bob, "GET", "/api/messages/unread_count/", 200) == {"unread": 2}
    call(
        bob,
        "POST",
        "/api/messages/conversation/{user_id}/read/",
        200,
        path_parameters={"user_id": alice.id},
    )
    call(alice, "POST", "/api/messages/", 201, body={"receiver_id": bob.id, "content": "again"})
    call(bob, "POST", "/api/messages/read_all/", 200, query={"user_id": alice.id})

    # Notifications: alice holds friend_accepted, message_sent and messages_read, bob
    # friend_request and new_message, carol friend_request_declined and
    # friend_request_cancelled, so every event shape is checked against the schema.
    for person in (alice, bob, carol):
        events = call(person, "GET", "/api/notifications/", 200)
        call(
            person, "GET", "/api/notifications/", 200, query={"after": events[0]["id"], "limit": 1}
        )
        call(person, "GET", "/api/notifications/unread_count/", 200)
        call(person, "POST", "/api/notifications/read/", 200, body={"ids": [events[0]["id"]]})
        call(person, "POST", "/api/notifications/read/", 200, body={"up_to": events[-1]["id"]})
    event_types = set()
    for person in (alice, bob, carol):
        event_types |= {e["type"] for e in call(person, "GET", "/api/notifications/", 200)}
    assert event_types == {
        "friend_request", "friend_accepted", "new_message", "messages_read", "message_sent",
        "friend_request_declined", "friend_request_cancelled",
    }  # fmt: skip

    # Endings.
    call(
        alice, "DELETE", "/api/friends/remove/{user_id}/", 200, path_parameters={"user_id": bob.id}
    )
    # The last event shape: bob learns who ended the friendship.
    assert call(bob, "GET", "/api/notifications/", 200)[-1]["type"] == "friend_removed"
    call(
        alice, "DELETE", "/api/friends/remove/{user_id}/", 404, path_parameters={"user_id": bob.id}
    )
    call(alice, "POST", "/api/auth/logout/", 205, body={"refresh": alice.refresh})
    call(None, "POST", "/api/auth/token/refresh/", 401, body={"refresh": alice.refresh})
    call(None, "POST", "/api/auth/token/refresh/", 401, body={"refresh": alice.refresh})


# Found by schemathesis: the catch-all view was not csrf_exempt, so CsrfViewMiddleware answered
# these writes with Django's HTML 403 page instead of the JSON 404.
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/friends/accept/1000000000000000000/"),
        ("DELETE", "/api/friends/remove/-1/"),
        ("POST", "/api/no-such-endpoint/"),
    ],
)
def test_a_write_to_an_unknown_api_path_answers_the_json_404(server_a, method, path):
    person = Person(server_a, unique("lost"))
    status, body = person.api.request(method, path)
    assert (status, body["code"]) == (404, "not_found")
