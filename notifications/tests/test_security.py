"""Who may open a socket and what a socket may do: tickets, expiry, origin, limits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from notifications.models import WebSocketTicket
from notifications.registry import socket_registry
from notifications.services import user_deactivate, ws_ticket_issue
from numeneon.asgi import application
from tests.helpers import access_token, closed_with, established

pytestmark = [pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def issue_ticket(user: User, token_lifetime: float = 900) -> str:
    expires = datetime.now(tz=UTC) + timedelta(seconds=token_lifetime)
    return ws_ticket_issue(user=user, token_expires_at=expires)[0]


# --- tickets ---------------------------------------------------------------------------------


async def test_a_ticket_opens_one_socket_and_is_refused_on_reuse(connect, alice):
    ticket = await issue_ticket(alice)
    first = await connect(query=f"ticket={ticket}")
    assert (await established(first))["user_id"] == alice.pk
    again = await connect(query=f"ticket={ticket}")
    assert await closed_with(again) == 4001


async def test_an_expired_ticket_is_refused(connect, alice):
    ticket = await issue_ticket(alice)
    await WebSocketTicket.objects.aupdate(expires_at=datetime.now(tz=UTC) - timedelta(seconds=1))
    communicator = await connect(query=f"ticket={ticket}")
    assert await closed_with(communicator) == 4001


@pytest.mark.parametrize("ticket", ["", "nope", "x" * 5000])
async def test_an_unknown_ticket_is_refused(connect, alice, ticket):
    communicator = await connect(query=f"ticket={ticket}")
    assert await closed_with(communicator) == 4001


async def test_a_ticket_wins_over_a_token_so_a_bad_ticket_is_refused(connect, alice):
    communicator = await connect(query=f"ticket=bad&token={AccessToken.for_user(alice)}")
    assert await closed_with(communicator) == 4001


async def test_a_ticket_of_a_deactivated_user_is_closed_with_4003(connect, alice):
    ticket = await issue_ticket(alice)
    await User.objects.filter(pk=alice.pk).aupdate(is_active=False)
    assert await closed_with(await connect(query=f"ticket={ticket}")) == 4003


async def test_only_a_hash_of_the_ticket_is_stored(alice):
    ticket = await issue_ticket(alice)
    stored = await WebSocketTicket.objects.aget()
    assert ticket not in stored.key_hash and len(stored.key_hash) == 64


# --- token expiry, deactivation --------------------------------------------------------------


async def test_an_idle_socket_closes_with_4002_when_its_token_expires(connect, alice):
    # JWT expiry is whole seconds: this token expires 1.5 to 2.5 s from now.
    communicator = await connect(query=f"token={access_token(alice, 2.5)}")
    await established(communicator)
    assert await communicator.receive_nothing(timeout=1.0)
    assert await closed_with(communicator, timeout=3) == 4002


async def test_a_ticket_socket_closes_when_the_token_that_asked_for_it_expires(connect, alice):
    ticket = await issue_ticket(alice, token_lifetime=1.5)
    communicator = await connect(query=f"ticket={ticket}")
    await established(communicator)
    assert await closed_with(communicator, timeout=3) == 4002


async def test_deactivating_a_user_closes_all_their_sockets_with_4003(connect, alice, bob):
    tabs = [await connect(alice), await connect(alice)]
    bystander = await connect(bob)
    for communicator in (*tabs, bystander):
        await established(communicator)
    await database_sync_to_async(user_deactivate)(user=alice)
    for tab in tabs:
        assert await closed_with(tab) == 4003
    await bystander.send_json_to({"type": "ping"})
    assert await bystander.receive_json_from() == {"type": "pong"}


# --- origin ----------------------------------------------------------------------------------


async def handshake(user, origin: bytes | None, host: bytes = b"api.numeneon.test"):
    headers = [(b"host", host)] + ([(b"origin", origin)] if origin is not None else [])
    communicator = WebsocketCommunicator(
        application, f"/ws/notifications/?token={AccessToken.for_user(user)}", headers=headers
    )
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # servers and mobile apps send none
        (b"http://localhost:5173", True),  # listed
        (b"https://api.numeneon.test", True),  # a page of this backend itself
        (b"http://evil.example", False),
        (b"http://localhost:5173.evil.example", False),
        (b"null", False),
        (b"", False),
    ],
)
async def test_the_handshake_is_refused_from_an_origin_not_allowed(
    settings, alice, origin, allowed
):
    settings.CORS_ALLOWED_ORIGINS = ["http://localhost:5173"]
    assert await handshake(alice, origin) is allowed


# --- limits ----------------------------------------------------------------------------------


async def test_a_frame_over_64_kib_closes_with_1009(connect, alice):
    communicator = await connect(alice)
    await established(communicator)
    await communicator.send_to(text_data='{"type": "ping", "pad": "' + "x" * 65536 + '"}')
    assert await closed_with(communicator) == 1009


async def test_a_frame_of_exactly_64_kib_is_answered(connect, alice):
    communicator = await connect(alice)
    await established(communicator)
    frame = '{"type": "ping", "pad": ""}'
    frame = frame.replace('""', '"' + "x" * (65536 - len(frame)) + '"')
    assert len(frame.encode()) == 65536
    await communicator.send_to(text_data=frame)
    assert await communicator.receive_json_from() == {"type": "pong"}


async def test_the_21st_frame_within_a_second_closes_with_4008(connect, alice):
    communicator = await connect(alice)
    await established(communicator)
    for _ in range(20):
        await communicator.send_json_to({"type": "ping"})
    for _ in range(20):
        assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.send_json_to({"type": "ping"})
    assert await closed_with(communicator) == 4008


async def test_ten_frames_a_second_sustained_never_close_the_socket(connect, alice):
    communicator = await connect(alice)
    await established(communicator)
    for _ in range(30):
        await communicator.send_json_to({"type": "ping"})
        assert await communicator.receive_json_from() == {"type": "pong"}
        await asyncio.sleep(0.1)


async def test_one_socket_over_the_cap_closes_the_users_oldest_with_4009(
    settings, connect, alice, bob
):
    settings.WEBSOCKET_MAX_SOCKETS_PER_USER = 3
    tabs = []
    for _ in range(3):
        tabs.append(await connect(alice))
        await established(tabs[-1])
    others = await connect(bob)
    await established(others)
    newest = await connect(alice)
    await established(newest)
    assert await closed_with(tabs[0]) == 4009
    for communicator in (*tabs[1:], newest, others):
        await communicator.send_json_to({"type": "ping"})
        assert await communicator.receive_json_from() == {"type": "pong"}
    assert len(await socket_registry().channels(alice.pk)) == 3
