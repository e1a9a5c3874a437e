"""POST /api/auth/ws-ticket/: the single-use ticket a socket opens with."""

from __future__ import annotations

import pytest

from notifications.models import WebSocketTicket
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_a_ticket_is_issued_to_an_authenticated_user(client_for, alice):
    response = client_for(alice).post("/api/auth/ws-ticket/")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"ticket", "expires_in"}
    assert len(body["ticket"]) >= 32
    assert 0 < body["expires_in"] <= 30
    assert WebSocketTicket.objects.get().user == alice


def test_a_ticket_needs_authentication(anon):
    assert_error(anon.post("/api/auth/ws-ticket/"), 401, "not_authenticated")
