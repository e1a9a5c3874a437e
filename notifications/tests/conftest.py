"""Fixtures for socket tests: a token per persona and a communicator factory."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken

from notifications.services import notify
from numeneon.asgi import application
from tests.pushservice import PushService, vapid_keys, write_certificate


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test gets a new layer: no group membership outlives its test."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
async def connect():
    """Open a socket as `user` (or with a raw `query`); every socket is disconnected after."""
    opened: list[WebsocketCommunicator] = []

    async def open_socket(user=None, *, query: str | None = None, headers=None):
        if query is None:
            query = f"token={AccessToken.for_user(user)}"
        communicator = WebsocketCommunicator(
            application, f"/ws/notifications/?{query}", headers=headers or []
        )
        connected, _ = await communicator.connect()
        assert connected
        opened.append(communicator)
        return communicator

    yield open_socket
    for communicator in opened:
        # Lets the consumer run its disconnect handler and leave its group, even where the
        # server closed the socket itself; a second disconnect of the same socket is harmless.
        await communicator.disconnect()


# notify() from async tests, on a thread whose database connection is closed after each call
# (asgiref's plain sync_to_async would leave it open and block the test database's teardown).
anotify = database_sync_to_async(notify)


@pytest.fixture(autouse=True)
async def close_the_async_orm_connection():
    """Django's async ORM (acount, async for ...) runs on asgiref's shared thread, whose
    connection nothing else closes; an open one would block dropping the test database."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def push_service(settings, tmp_path):
    """A push service stand-in on loopback, and the settings that make the worker use it."""
    public, private = vapid_keys()
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = public, private
    settings.VAPID_SUBJECT = "mailto:ops@numeneon.test"
    settings.WEB_PUSH_ENABLED = True
    settings.PUSH_RETRY_BASE_SECONDS = 0.05
    cert, key = write_certificate(tmp_path)
    service = PushService(vapid_public_key=public, cert_path=cert, key_path=key)
    settings.PUSH_ALLOWED_HOSTS = [f"127.0.0.1:{service.port}"]
    settings.PUSH_TLS_CA_FILE = str(cert)
    service.start()
    yield service
    service.stop()
    assert not service.rejected, service.rejected
