"""The Accounts section of the contract, endpoint by endpoint."""

from __future__ import annotations

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import LoginSession, Profile, User
from accounts.services import profile_update, user_lock_out
from accounts.tokens import SESSION_CLAIM
from conftest import PASSWORD
from numeneon.timefmt import iso
from tests.helpers import EMPTY_PROFILE, assert_error, profile_user

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
    assert Profile.objects.filter(user=user).exists()
    me = anon.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.json()["id"] == user.pk
    assert me.json()["profile"] == EMPTY_PROFILE


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


def refresh(client, token: str):
    return client.post(REFRESH, {"refresh": token}, format="json")


def logout(client, tokens: dict):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access']}"}
    return client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json", **auth)


def test_refresh_answers_a_new_access_token_and_the_refresh_token_given(anon, alice):
    tokens = login(anon, alice)
    response = refresh(anon, tokens["refresh"])
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert body["refresh"] == tokens["refresh"]
    me = anon.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.status_code == 200 and me.json()["id"] == alice.pk


def test_a_refresh_token_keeps_working_across_many_refreshes(anon, alice):
    tokens = login(anon, alice)
    for _ in range(4):
        assert refresh(anon, tokens["refresh"]).status_code == 200


def test_logout_refuses_every_refresh_token_of_the_session(anon, alice):
    tokens = login(anon, alice)
    assert refresh(anon, tokens["refresh"]).status_code == 200
    assert logout(anon, tokens).status_code == 205
    assert_error(refresh(anon, tokens["refresh"]), 401, "token_not_valid")


def test_logout_leaves_the_persons_other_sessions_alone(anon, alice):
    laptop, phone = login(anon, alice), login(anon, alice)
    assert logout(anon, laptop).status_code == 205
    assert refresh(anon, phone["refresh"]).status_code == 200
    assert_error(refresh(anon, laptop["refresh"]), 401, "token_not_valid")


def test_logging_out_twice_is_refused_the_second_time(anon, alice):
    tokens = login(anon, alice)
    assert logout(anon, tokens).status_code == 205
    assert_error(logout(anon, tokens), 401, "token_not_valid")


def test_a_refresh_token_from_before_login_sessions_still_works_until_logout(anon, alice):
    legacy = RefreshToken.for_user(alice)  # no session claim, as tokens before sessions had
    tokens = {"access": str(legacy.access_token), "refresh": str(legacy)}
    assert refresh(anon, tokens["refresh"]).status_code == 200
    assert logout(anon, tokens).status_code == 205
    assert_error(refresh(anon, tokens["refresh"]), 401, "token_not_valid")


@pytest.mark.parametrize("session_id", ["1", 1.5, True, None, -1, 2**70, [1], {"id": 1}])
def test_a_signed_token_with_an_odd_session_claim_is_refused(anon, alice, session_id):
    token = RefreshToken.for_user(alice)
    token[SESSION_CLAIM] = session_id
    assert_error(refresh(anon, str(token)), 401, "token_not_valid")


def test_a_session_claim_of_another_persons_session_is_refused(anon, alice, bob):
    bobs = RefreshToken(login(anon, bob)["refresh"])
    token = RefreshToken.for_user(alice)
    token[SESSION_CLAIM] = bobs[SESSION_CLAIM]
    assert_error(refresh(anon, str(token)), 401, "token_not_valid")


def test_deactivation_ends_every_session(anon, alice):
    tokens = login(anon, alice)
    user_lock_out(user=alice)
    assert not LoginSession.objects.filter(user=alice, ended_at__isnull=True).exists()
    assert refresh(anon, tokens["refresh"]).status_code == 401


@pytest.mark.parametrize("refresh", ["garbage", "", None, 42])
def test_refresh_refuses_garbage(anon, refresh):
    response = anon.post(REFRESH, {"refresh": refresh}, format="json")
    assert response.status_code in (400, 401)
    assert_error(response, response.status_code, response.json()["code"])


def test_refresh_refuses_an_access_token(anon, alice):
    tokens = login(anon, alice)
    response = anon.post(REFRESH, {"refresh": tokens["access"]}, format="json")
    assert_error(response, 401, "token_not_valid")


def test_logout_refuses_another_users_refresh_token(anon, alice, bob):
    alice_tokens, bob_tokens = login(anon, alice), login(anon, bob)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {alice_tokens['access']}"}
    response = anon.post(LOGOUT, {"refresh": bob_tokens["refresh"]}, format="json", **auth)
    assert_error(response, 401, "token_not_valid")
    assert refresh(anon, bob_tokens["refresh"]).status_code == 200


def test_logout_needs_authentication(anon, alice):
    tokens = login(anon, alice)
    assert_error(
        anon.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json"), 401, "not_authenticated"
    )


def test_me_shows_the_users_own_email_and_profile(client_for, alice):
    assert client_for(alice).get("/api/auth/me/").json() == {
        **profile_user(alice),
        "email": "alice@example.com",
        "date_joined": iso(alice.date_joined),
        "profile": EMPTY_PROFILE,
    }


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Basic abc", "Bearer a.b.c"])
def test_a_bad_bearer_token_gets_the_error_body(anon, header):
    response = anon.get("/api/auth/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert_error(response, 401, response.json()["code"])


def test_search_finds_others_by_name_never_yourself_and_never_their_email(
    client_for, alice, bob, charlie
):
    profile_update(user=bob, avatar="https://img.example.com/bob.png")
    response = client_for(alice).get("/api/auth/search/", {"q": "b"})
    assert response.status_code == 200
    assert response.json() == [
        profile_user(bob, "https://img.example.com/bob.png"),
        profile_user(charlie),
    ]
    assert client_for(alice).get("/api/auth/search/", {"q": "alice"}).json() == []


def test_search_reads_every_avatar_in_the_same_query_as_the_users(
    client_for, alice, make_user, django_assert_num_queries
):
    for n in range(6):
        profile_update(user=make_user(f"user{n}"), avatar=f"https://img.example.com/{n}.png")
    make_user("userz")  # made without a profile, as by createsuperuser
    client = client_for(alice)
    # One for the token's user, one for the users with their profiles.
    with django_assert_num_queries(2):
        found = client.get("/api/auth/search/", {"q": "user"}).json()
    assert [u["profile_picture"] for u in found] == [
        *(f"https://img.example.com/{n}.png" for n in range(6)),
        None,
    ]


def test_search_returns_at_most_twenty(client_for, alice, make_user):
    for n in range(25):
        make_user(f"user{n:02d}")
    assert len(client_for(alice).get("/api/auth/search/", {"q": "user"}).json()) == 20


def test_search_without_a_query_returns_nobody(client_for, alice, bob):
    assert client_for(alice).get("/api/auth/search/").json() == []


def test_user_detail_is_the_profile_user_without_email(client_for, alice, bob):
    profile_update(
        user=bob,
        bio="Can we fix it?",
        location="Bobsville",
        website="http://bob.example.com",
        avatar="https://img.example.com/bob.png",
    )
    response = client_for(alice).get("/api/auth/users/BOB/")
    assert response.json() == {
        **profile_user(bob, "https://img.example.com/bob.png"),
        "date_joined": iso(bob.date_joined),
        "profile": {
            "bio": "Can we fix it?",
            "avatar": "https://img.example.com/bob.png",
            "location": "Bobsville",
            "website": "http://bob.example.com",
        },
    }


def test_user_detail_of_a_user_without_a_profile_shows_the_empty_profile(
    client_for, alice, bob, django_assert_num_queries
):
    assert not Profile.objects.filter(user=bob).exists()
    client = client_for(alice)
    with django_assert_num_queries(2):  # the token's user, then bob with his profile
        body = client.get("/api/auth/users/bob/").json()
    assert body["profile"] == EMPTY_PROFILE
    assert body["profile_picture"] is None


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


# --- PATCH profile/ ------------------------------------------------------------------------

PROFILE = "/api/auth/profile/"


def test_patching_the_profile_saves_it_and_answers_the_me_object(client_for, alice):
    client = client_for(alice)
    response = client.patch(
        PROFILE,
        {
            "bio": "Curiouser and curiouser.",
            "location": "Wonderland",
            "website": "https://alice.example.com/about",
            "avatar": "https://img.example.com/alice.png",
            "first_name": "Alice P.",
            "last_name": "Liddell-Hargreaves",
        },
        format="json",
    )
    assert response.status_code == 200
    expected = {
        "id": alice.pk,
        "username": "alice",
        "first_name": "Alice P.",
        "last_name": "Liddell-Hargreaves",
        "email": "alice@example.com",
        "profile_picture": "https://img.example.com/alice.png",
        "date_joined": iso(alice.date_joined),
        "profile": {
            "bio": "Curiouser and curiouser.",
            "avatar": "https://img.example.com/alice.png",
            "location": "Wonderland",
            "website": "https://alice.example.com/about",
        },
    }
    assert response.json() == expected
    assert client.get("/api/auth/me/").json() == expected


def test_patching_one_field_leaves_the_others_as_they_were(client_for, alice):
    profile_update(user=alice, bio="Curious.", location="Oxford")
    response = client_for(alice).patch(PROFILE, {"location": "Wonderland"}, format="json")
    assert response.json()["profile"] == {
        "bio": "Curious.",
        "avatar": None,
        "location": "Wonderland",
        "website": "",
    }
    assert response.json()["first_name"] == "Alice"


def test_patching_creates_the_profile_of_a_user_who_has_none(client_for, alice):
    assert not Profile.objects.filter(user=alice).exists()
    response = client_for(alice).patch(PROFILE, {"bio": "New here."}, format="json")
    assert response.status_code == 200
    assert Profile.objects.get(user=alice).bio == "New here."


@pytest.mark.parametrize("cleared", [None, ""])
def test_a_null_or_empty_avatar_clears_it(client_for, alice, cleared):
    profile_update(user=alice, avatar="https://img.example.com/alice.png")
    response = client_for(alice).patch(PROFILE, {"avatar": cleared}, format="json")
    assert response.status_code == 200
    assert response.json()["profile_picture"] is None
    assert response.json()["profile"]["avatar"] is None
    assert Profile.objects.get(user=alice).avatar is None


def test_an_empty_website_removes_it(client_for, alice):
    profile_update(user=alice, website="https://alice.example.com")
    response = client_for(alice).patch(PROFILE, {"website": ""}, format="json")
    assert response.json()["profile"]["website"] == ""


def test_an_empty_patch_changes_nothing_and_answers_the_me_object(client_for, alice):
    response = client_for(alice).patch(PROFILE, {}, format="json")
    assert response.status_code == 200
    assert response.json()["profile"] == EMPTY_PROFILE
    assert response.json()["email"] == "alice@example.com"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"avatar": "http://img.example.com/alice.png"}, "avatar: Enter an https URL."),
        ({"avatar": "HTTPS://img.example.com/alice.png"}, "avatar: Enter an https URL."),
        ({"avatar": "javascript:alert(1)"}, "avatar: Enter an https URL."),
        ({"avatar": "https://"}, "avatar: Enter an https URL."),
        (
            {"avatar": "https://img.example.com/" + "a" * 480},
            "avatar: Ensure this field has no more than 500 characters.",
        ),
        ({"website": "ftp://alice.example.com"}, "website: Enter an http or https URL."),
        ({"website": "alice.example.com"}, "website: Enter an http or https URL."),
        ({"website": "javascript:alert(1)"}, "website: Enter an http or https URL."),
        (
            {"website": "https://alice.example.com/" + "a" * 180},
            "website: Ensure this field has no more than 200 characters.",
        ),
        ({"bio": "x" * 10_000}, "bio: Ensure this field has no more than 500 characters."),
        ({"bio": "x" * 501}, "bio: Ensure this field has no more than 500 characters."),
        ({"location": "x" * 101}, "location: Ensure this field has no more than 100 characters."),
        (
            {"first_name": "x" * 151},
            "first_name: Ensure this field has no more than 150 characters.",
        ),
        ({"bio": None}, "bio: This field may not be null."),
        ({"bio": 42}, "bio: Must be a string."),
        ({"last_name": ["Liddell"]}, "last_name: Must be a string."),
        ({"bio": "nul \x00 byte"}, "bio: Null characters are not allowed."),
    ],
)
def test_a_bad_profile_field_is_a_400_naming_it(client_for, alice, body, message):
    response = client_for(alice).patch(PROFILE, body, format="json")
    error = assert_error(response, 400, "validation_error")
    assert error == {
        "detail": message,
        "error": message,
        "code": "validation_error",
        "errors": {next(iter(body)): [message.split(": ", 1)[1]]},
    }
    assert not Profile.objects.filter(user=alice).exists()


def test_an_unknown_field_is_a_400_naming_it(client_for, alice):
    response = client_for(alice).patch(
        PROFILE, {"bio": "Hi", "email": "x@example.com"}, format="json"
    )
    assert assert_error(response, 400, "validation_error") == {
        "detail": "email: Unknown field.",
        "error": "email: Unknown field.",
        "code": "validation_error",
        "errors": {"email": ["Unknown field."]},
    }
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    assert not Profile.objects.filter(user=alice).exists()


def test_unknown_and_bad_fields_are_all_named_at_once(client_for, alice):
    body = {"avatar": "http://x.example.com/a.png", "colour": "red", "bio": "x" * 501}
    response = client_for(alice).patch(PROFILE, body, format="json")
    errors = assert_error(response, 400, "validation_error")["errors"]
    assert errors == {
        "avatar": ["Enter an https URL."],
        "bio": ["Ensure this field has no more than 500 characters."],
        "colour": ["Unknown field."],
    }


@pytest.mark.parametrize("body", ["[]", '"bio"', "null", "42"])
def test_a_body_that_is_not_an_object_is_a_400(client_for, alice, body):
    response = client_for(alice).patch(PROFILE, body, content_type="application/json")
    assert_error(response, 400, response.json()["code"])


def test_patching_the_profile_needs_authentication(anon):
    assert_error(anon.patch(PROFILE, {"bio": "Hi"}, format="json"), 401, "not_authenticated")


def test_the_profile_is_only_patched_not_put(client_for, alice):
    response = client_for(alice).put(PROFILE, {"bio": "Hi"}, format="json")
    assert_error(response, 405, "method_not_allowed")


# Full-width, then a compatibility ligature and a superscript: each is "alice" under NFKC.
@pytest.mark.parametrize("twin", ["\uff41\uff4c\uff49\uff43\uff45", "\uff21LICE", "al\u2071ce"])
def test_a_unicode_twin_of_a_taken_username_is_taken(anon, alice, twin):
    response = signup(anon, username=twin, email="twin@example.com")
    error = assert_error(response, 400, "validation_error")
    assert list(error["errors"]) == ["username"]
    assert User.objects.count() == 1


def test_a_username_is_stored_in_its_nfkc_form_and_logs_in_either_way(anon):
    assert signup(anon, username="\uff44\uff4f\uff52\uff41").status_code == 201  # full-width
    assert User.objects.get(email="dora@example.com").username == "dora"
    for name in ("dora", "\uff44\uff4f\uff52\uff41", "DORA"):
        body = {"username": name, "password": "explorer-of-maps-7"}
        assert anon.post(LOGIN, body, format="json").status_code == 200
