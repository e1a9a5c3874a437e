"""Shared fixtures: the personas alice, bob and charlie (no relation between them), their
clients and the factories the suites share."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import tokens_for
from friends.models import Friendship, ordered_pair
from tests.helpers import bearer

PASSWORD = "correct-horse-battery-42"


@pytest.fixture
def make_user(db):
    def make(username: str, **fields) -> User:
        fields.setdefault("email", f"{username}@example.com")
        fields.setdefault("first_name", username.title())
        return User.objects.create_user(username=username, password=PASSWORD, **fields)

    return make


@pytest.fixture
def alice(make_user) -> User:
    return make_user("alice", last_name="Liddell")


@pytest.fixture
def bob(make_user) -> User:
    return make_user("bob", last_name="Builder")


@pytest.fixture
def charlie(make_user) -> User:
    return make_user("charlie", last_name="Brown")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for():
    """An API client that sends `user`'s access token."""

    def make(user: User) -> APIClient:
        return bearer(tokens_for(user)["access"])

    return make


@pytest.fixture
def as_alice(client_for, alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def as_bob(client_for, bob) -> APIClient:
    return client_for(bob)


@pytest.fixture
def as_charlie(client_for, charlie) -> APIClient:
    return client_for(charlie)


@pytest.fixture
def befriend():
    def make(a: User, b: User) -> Friendship:
        low, high = ordered_pair(a.pk, b.pk)
        return Friendship.objects.create(user_low_id=low, user_high_id=high)

    return make


@pytest.fixture
def friends(alice, bob, befriend) -> tuple[User, User]:
    """alice and bob, friends."""
    befriend(alice, bob)
    return alice, bob


@pytest.fixture
async def redis():
    """A Redis client of the test's own, to see what Redis holds."""
    from redis import asyncio as aioredis

    from tests.helpers import TEST_REDIS_URL

    client = aioredis.Redis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def in_memory_layer(settings):
    """A fresh in-memory channel layer, for sync tests that read the layer themselves.

    channels-redis binds its receive buffer to one event loop, and every async_to_sync call in
    a sync test runs its own loop; the Redis layer is tested end to end instead.
    """
    from channels.layers import channel_layers, get_channel_layer

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield get_channel_layer()
    channel_layers.backends.clear()
