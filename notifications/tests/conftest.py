"""Fixtures for socket tests: a token per persona and a communicator factory."""

from __future__ import annotations

import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from numeneon.asgi import application


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
