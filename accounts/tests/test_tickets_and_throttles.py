"""Deactivation as accounts sees it, and the throttles on sensitive endpoints."""

from __future__ import annotations

import contextlib

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.services import tokens_for, user_lock_out
from conftest import PASSWORD
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_a_deactivated_user_can_neither_log_in_nor_refresh(anon, alice):
    refresh = tokens_for(alice)["refresh"]
    user_lock_out(user=alice)
    login = anon.post(
        "/api/auth/login/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert_error(login, 401, "invalid_credentials")
    again = anon.post("/api/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert_error(again, 401, "token_not_valid")


@pytest.fixture
def throttled(settings):
    settings.THROTTLE_ENABLED = True
    settings.THROTTLE_RATES = {
        "signup": "2/hour",
        "login": "2/minute",
        "ws_ticket": "2/minute",
        "message_send": "2/minute",
    }
    cache.clear()
    yield
    with contextlib.suppress(Exception):  # one test points the cache at nothing
        cache.clear()


def test_logins_are_throttled_per_client(throttled, anon, alice):
    for _ in range(2):
        anon.post("/api/auth/login/", {"username": "alice", "password": "wrong"}, format="json")
    response = anon.post(
        "/api/auth/login/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    body = assert_error(response, 429, "throttled")
    assert "throttled" in body["detail"].lower()
    assert int(response["Retry-After"]) > 0


def test_signups_are_throttled_per_client(throttled, anon):
    statuses = [
        anon.post(
            "/api/auth/signup/",
            {"username": f"new{n}", "email": f"new{n}@example.com", "password": "a-fine-pass-9"},
            format="json",
        ).status_code
        for n in range(3)
    ]
    assert statuses == [201, 201, 429]


def test_tickets_and_messages_are_throttled_per_user(throttled, client_for, alice, bob, befriend):
    befriend(alice, bob)
    client = client_for(alice)
    tickets = [client.post("/api/auth/ws-ticket/").status_code for _ in range(3)]
    assert tickets == [201, 201, 429]
    sends = [
        client.post(
            "/api/messages/", {"receiver_id": bob.pk, "content": "hi"}, format="json"
        ).status_code
        for _ in range(3)
    ]
    assert sends == [201, 201, 429]
    # Another user has budget of their own.
    assert client_for(bob).post("/api/auth/ws-ticket/").status_code == 201


def test_a_cache_outage_lets_requests_through_instead_of_failing(throttled, settings, anon, alice):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.5},
        }
    }
    response = anon.post(
        "/api/auth/login/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200


def test_admin_logins_share_the_api_login_limit_per_client(throttled, anon, admin_user):
    form = {"username": "admin", "password": "wrong", "next": "/admin/"}
    client = Client()
    assert client.post("/admin/login/", form).status_code == 200  # the form again, with errors
    anon.post("/api/auth/login/", {"username": "admin", "password": "wrong"}, format="json")
    refused = client.post("/admin/login/", {**form, "password": "password"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert client.get("/admin/login/").status_code == 200  # looking at the form is free
