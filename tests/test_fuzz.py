"""Property-based: whatever a client sends, the answer is the contract's error body or close
code, never a 500 or a crash, and the server answers the next request."""

from __future__ import annotations

import json
import os

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.services import tokens_for

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["", " ", "\x00", "\ud800", "9" * 30, "1", "-1", "x" * 6000])
)
FIELDS = [
    "username", "email", "password", "display_name", "refresh", "receiver_id", "content",
    "ids", "up_to", "user_id", "last_event_id", "q", "limit", "before", "after",
]  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6) | json_values

POSTS = [
    "/api/auth/signup/",
    "/api/auth/login/",
    "/api/auth/token/refresh/",
    "/api/auth/logout/",
    "/api/auth/ws-ticket/",
    "/api/messages/",
    "/api/notifications/read/",
    "/api/messages/read_all/",
]
ids = st.one_of(
    st.integers(min_value=0, max_value=10**25).map(str),
    st.sampled_from(["abc", "-1", "1.5", "%00", "999999999999999999"]),
)
GET_TEMPLATES = [
    "/api/auth/search/?q={}",
    "/api/auth/users/{}/",
    "/api/messages/conversation/{}/?before={}&limit={}",
    "/api/notifications/?after={}&limit={}",
    "/api/messages/read_all/?user_id={}",
]


def assert_contract_answer(response) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["detail"], str) and body["error"] == body["detail"]
        assert isinstance(body["code"], str) and body["code"]


@FUZZ
@given(path=st.sampled_from(POSTS), body=bodies, raw=st.booleans())
def test_any_json_body_gets_an_answer_of_the_contract(alice, bob, befriend, path, body, raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(alice)['access']}")
    if raw:
        payload = json.dumps(body)[: len(json.dumps(body)) // 2]  # cut short: not JSON
    else:
        payload = json.dumps(body)
    assert_contract_answer(client.post(path, payload, content_type="application/json"))
    assert client.get("/api/auth/me/").status_code == 200


@FUZZ
@given(template=st.sampled_from(GET_TEMPLATES), values=st.lists(ids, min_size=3, max_size=3))
def test_any_path_or_query_value_gets_an_answer_of_the_contract(alice, template, values):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(alice)['access']}")
    assert_contract_answer(client.get(template.format(*values)))
    for method, path in [
        ("post", "/api/friends/request/{}/"),
        ("post", "/api/friends/accept/{}/"),
        ("post", "/api/friends/decline/{}/"),
        ("delete", "/api/friends/cancel/{}/"),
        ("delete", "/api/friends/remove/{}/"),
        ("post", "/api/messages/conversation/{}/read/"),
    ]:
        assert_contract_answer(getattr(client, method)(path.format(values[0])))
    assert client.get("/api/auth/me/").status_code == 200


frames = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["ping", "ack", "pong", "subscribe", ""]) | st.text(max_size=5)},
        optional={"last_event_id": json_values, "data": json_values},
    ).map(json.dumps),
    st.binary(max_size=100),
)
ERROR_CODES = {"invalid_json", "bad_frame", "unknown_type"}


async def exchange(user, sent: list) -> None:
    communicator = WebsocketCommunicator(
        _application(), f"/ws/notifications/?token={AccessToken.for_user(user)}"
    )
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "connection_established"
    for frame in sent:
        # send_input, not send_to: an empty frame is a frame too.
        key = "bytes" if isinstance(frame, bytes) else "text"
        await communicator.send_input({"type": "websocket.receive", key: frame})
        if isinstance(frame, str) and _is_valid_ack(frame):
            continue  # a valid ack has no answer
        answer = await communicator.receive_json_from(timeout=2)
        assert answer == {"type": "pong"} or (
            answer["type"] == "error" and answer["code"] in ERROR_CODES and answer["message"]
        ), (frame, answer)
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=2) == {"type": "pong"}
    await communicator.disconnect()


def _is_valid_ack(text: str) -> bool:
    try:
        frame = json.loads(text)
    except ValueError:
        return False
    value = isinstance(frame, dict) and frame.get("type") == "ack" and frame.get("last_event_id")
    return type(value) is int and 0 < value < 2**63


def _application():
    from numeneon.asgi import application

    return application


@FUZZ
@given(sent=st.lists(frames, min_size=1, max_size=6))
def test_any_frame_gets_pong_or_an_error_frame_and_the_socket_stays_open(
    alice, in_memory_layer, sent
):
    async_to_sync(exchange)(alice, sent)
