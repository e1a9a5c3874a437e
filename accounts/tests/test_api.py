"""The Accounts section of the contract, endpoint by endpoint."""

from __future__ import annotations

import pytest

from accounts.models import User
from conftest import PASSWORD
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

SIGNUP = "/api/auth/signup/"
LOGIN = "/api/auth/login/"
REFRESH = "/api/auth/token/refresh/"
LOGOUT = "/api/auth/logout/"


def signup(client, **fields):
    body = {"username": "dora", "email": "dora@example.com", "password": "explorer-of-maps-7"}
    body.update(fields)
    return client.post(SIGNUP, body, format="json")


def test_signup_creates_the_user_and_returns_tokens(anon):
    response = signup(anon, display_name="Dora Marquez")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"message", "user", "access", "refresh"}
    user = User.objects.get(username="dora")
    assert body["user"] == {
        "id": user.pk,
        "username": "dora",
        "email": "dora@example.com",
        "first_name": "Dora",
        "last_name": "Marquez",
    }
    me = anon.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.json()["id"] == user.pk


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": "ALICE"}, "username"),
        ({"email": "Alice@Example.COM"}, "email"),
    ],
)
def test_signup_refuses_a_taken_username_or_email_whatever_the_case(anon, alice, fields, field):
    body = assert_error(signup(anon, **fields), 400, "validation_error")
    assert list(body["errors"]) == [field]


@pytest.mark.parametrize("password", ["12345678", "password", "short", "dora@example.com"])
def test_signup_refuses_a_weak_password(anon, password):
    body = assert_error(signup(anon, password=password), 400, "validation_error")
    assert "password" in body["errors"]


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "not-an-email"},
        {"email": ""},
        {"username": ""},
        {"username": "has spaces"},
        {"username": 12345},
        {"password": None},
        {"username": "x" * 151},
    ],
)
def test_signup_refuses_bad_fields(anon, fields):
    body = assert_error(signup(anon, **fields), 400, "validation_error")
    assert set(body["errors"]) <= {"username", "email", "password"}
    assert not User.objects.exists()


def test_signup_refuses_malformed_json(anon):
    response = anon.post(SIGNUP, '{"username": ', content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_signup_refuses_a_lone_surrogate_that_no_database_could_store(anon):
    body = '{"username": "dora", "email": "d@example.com", "password": "\\ud800-x-long-enough"}'
    response = anon.post(SIGNUP, body, content_type="application/json")
    assert_error(response, 400, "parse_error")


@pytest.mark.parametrize(
    "credentials",
    [{"username": "alice"}, {"username": "ALICE"}, {"email": "ALICE@example.com"}],
)
def test_login_accepts_a_username_or_an_email(anon, alice, credentials):
    response = anon.post(LOGIN, {**credentials, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "user"}
    assert body["user"]["id"] == alice.pk
    assert body["user"]["email"] == "alice@example.com"


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "alice", "password": "wrong-password"},
        {"email": "nobody@example.com", "password": PASSWORD},
        {"username": "nobody", "password": PASSWORD},
    ],
)
def test_login_refuses_wrong_credentials(anon, alice, credentials):
    assert_error(anon.post(LOGIN, credentials, format="json"), 401, "invalid_credentials")


def test_login_refuses_an_inactive_user(anon, alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = anon.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")
    assert_error(response, 401, "invalid_credentials")


def test_login_without_a_name_is_a_validation_error(anon):
    response = anon.post(LOGIN, {"password": PASSWORD}, format="json")
    assert_error(response, 400, "validation_error")


def login(client, user) -> dict:
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD}, format="json")
    return response.json()


def test_refresh_rotates_and_refuses_the_old_refresh_token(anon, alice):
    tokens = login(anon, alice)
    response = anon.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 200
    rotated = response.json()
    assert set(rotated) == {"access", "refresh"}
    assert rotated["refresh"] != tokens["refresh"]

    again = anon.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert_error(again, 401, "token_not_valid")
    assert anon.post(REFRESH, {"refresh": rotated["refresh"]}, format="json").status_code == 200


@pytest.mark.parametrize("refresh", ["garbage", "", None, 42])
def test_refresh_refuses_garbage(anon, refresh):
    response = anon.post(REFRESH, {"refresh": refresh}, format="json")
    assert response.status_code in (400, 401)
    assert_error(response, response.status_code, response.json()["code"])


def test_refresh_refuses_an_access_token(anon, alice):
    tokens = login(anon, alice)
    response = anon.post(REFRESH, {"refresh": tokens["access"]}, format="json")
    assert_error(response, 401, "token_not_valid")


def test_logout_blacklists_the_refresh_token(anon, alice):
    tokens = login(anon, alice)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access']}"}
    response = anon.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json", **auth)
    assert response.status_code == 205
    again = anon.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert_error(again, 401, "token_not_valid")


def test_logout_refuses_another_users_refresh_token(anon, alice, bob):
    alice_tokens, bob_tokens = login(anon, alice), login(anon, bob)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {alice_tokens['access']}"}
    response = anon.post(LOGOUT, {"refresh": bob_tokens["refresh"]}, format="json", **auth)
    assert_error(response, 401, "token_not_valid")
    assert anon.post(REFRESH, {"refresh": bob_tokens["refresh"]}, format="json").status_code == 200


def test_logout_needs_authentication(anon, alice):
    tokens = login(anon, alice)
    assert_error(
        anon.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json"), 401, "not_authenticated"
    )


def test_me_shows_the_users_own_email(client_for, alice):
    assert client_for(alice).get("/api/auth/me/").json() == {
        "id": alice.pk,
        "username": "alice",
        "first_name": "Alice",
        "last_name": "Liddell",
        "email": "alice@example.com",
    }


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Basic abc", "Bearer a.b.c"])
def test_a_bad_bearer_token_gets_the_error_body(anon, header):
    response = anon.get("/api/auth/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert_error(response, 401, response.json()["code"])


def test_search_finds_others_by_name_never_yourself_and_never_their_email(
    client_for, alice, bob, charlie
):
    response = client_for(alice).get("/api/auth/search/", {"q": "b"})
    assert response.status_code == 200
    assert response.json() == [
        {"id": bob.pk, "username": "bob", "first_name": "Bob", "last_name": "Builder"},
        {"id": charlie.pk, "username": "charlie", "first_name": "Charlie", "last_name": "Brown"},
    ]
    assert client_for(alice).get("/api/auth/search/", {"q": "alice"}).json() == []


def test_search_returns_at_most_twenty(client_for, alice, make_user):
    for n in range(25):
        make_user(f"user{n:02d}")
    assert len(client_for(alice).get("/api/auth/search/", {"q": "user"}).json()) == 20


def test_search_without_a_query_returns_nobody(client_for, alice, bob):
    assert client_for(alice).get("/api/auth/search/").json() == []


def test_user_detail_is_a_summary_without_email(client_for, alice, bob):
    response = client_for(alice).get("/api/auth/users/BOB/")
    assert response.json() == {
        "id": bob.pk,
        "username": "bob",
        "first_name": "Bob",
        "last_name": "Builder",
    }


def test_user_detail_of_nobody_is_404(client_for, alice):
    assert_error(client_for(alice).get("/api/auth/users/nobody/"), 404, "user_not_found")


def test_user_detail_needs_authentication(anon, bob):
    assert_error(anon.get("/api/auth/users/bob/"), 401, "not_authenticated")


def test_an_unknown_api_path_gets_the_error_body(client_for, alice):
    assert_error(client_for(alice).get("/api/nothing/here/"), 404, "not_found")


def test_a_wrong_method_gets_the_error_body(client_for, alice):
    assert_error(client_for(alice).delete("/api/auth/me/"), 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/api/auth/search/?q=%00", "/api/auth/users/a%00b/"])
def test_a_nul_character_in_the_path_or_query_is_a_400_not_a_database_error(
    client_for, alice, path
):
    assert_error(client_for(alice).get(path), 400, "bad_request")
