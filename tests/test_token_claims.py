"""Tokens signed with our key but with claims of the wrong type, missing or out of range: a
401 (4001 on the socket), never a 500 and never another user."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.tokens import user_id_from_claim
from numeneon.asgi import application
from tests.helpers import assert_error, bearer

# The user id claims that the ORM would have read as user 1, or choked on (a 500).
ODD_USER_IDS = [
    "\u0661",  # Arabic-Indic one
    "\uff11",  # full-width one
    " 1",
    "01",
    "+1",
    "1.0",
    1.0,
    True,
    "abc",
    "",
    None,
    [1],
    {"id": 1},
    0,
    -1,
    2**63,
    2**70,
]


def forged(token_class, user, **claims) -> str:
    """A token signed with our key (as a leaked key or a bug elsewhere would allow)."""
    token = token_class.for_user(user)
    for name, value in claims.items():
        if value is _MISSING:
            del token[name]
        else:
            token[name] = value
    return str(token)


_MISSING = object()


@pytest.mark.django_db
@pytest.mark.parametrize("user_id", [*ODD_USER_IDS, _MISSING])
def test_an_odd_user_id_claim_is_refused_by_every_kind_of_authentication(
    alice, bob, befriend, user_id
):
    befriend(alice, bob)
    access = forged(AccessToken, alice, user_id=user_id)
    # Stateful (the user is read), then stateless (the message path reads it itself).
    assert_error(bearer(access).get("/api/auth/me/"), 401, "token_not_valid")
    response = bearer(access).post(
        "/api/messages/", {"receiver_id": bob.pk, "content": "hi"}, format="json"
    )
    assert_error(response, 401, "token_not_valid")
    refresh = forged(RefreshToken, alice, user_id=user_id)
    response = APIClient().post("/api/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert_error(response, 401, "token_not_valid")


@pytest.mark.django_db
def test_a_refresh_token_of_a_deleted_user_is_a_401(alice):
    refresh = str(RefreshToken.for_user(alice))  # no session claim, as before login sessions
    alice.delete()
    response = APIClient().post("/api/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert_error(response, 401, "user_not_found")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("claim", "value"),
    [
        (claim, value)
        for claim in ("exp", "token_type", "jti")
        for value in ("x", None, [1], {"a": 1}, _MISSING)
        if (claim, value) != ("jti", "x")  # any string is a jti
    ],
)
def test_an_odd_standard_claim_is_refused(alice, claim, value):
    response = bearer(forged(AccessToken, alice, **{claim: value})).get("/api/auth/me/")
    assert_error(response, 401, "token_not_valid")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("user_id", ["\u0661", " 1", 1.0, True, "abc", [1], 2**70, _MISSING])
async def test_a_socket_with_an_odd_user_id_claim_closes_with_4001(alice, user_id):
    token = await database_sync_to_async(forged)(AccessToken, alice, user_id=user_id)
    communicator = WebsocketCommunicator(application, f"/ws/notifications/?token={token}")
    connected, _ = await communicator.connect()
    assert connected  # accepted first, so that a browser can read the close code
    output = await communicator.receive_output(timeout=3)
    assert output == {"type": "websocket.close", "code": 4001}
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("value", "user_id"),
    [(1, 1), ("1", 1), ("42", 42), (2**63 - 1, 2**63 - 1), (str(2**63 - 1), 2**63 - 1)]
    + [(odd, None) for odd in ODD_USER_IDS],
)
def test_a_user_id_claim_is_read_only_in_the_form_simplejwt_writes(value, user_id):
    assert user_id_from_claim(value) == user_id
