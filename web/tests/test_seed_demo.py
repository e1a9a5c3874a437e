"""`manage.py seed_demo`: demo data, created once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.models import User
from friends.models import FriendRequest, Friendship
from messages_app.models import Message
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> tuple[int, ...]:
    return (
        User.objects.count(),
        Friendship.objects.count(),
        FriendRequest.objects.filter(status="pending").count(),
        Message.objects.count(),
        Notification.objects.count(),
    )


def test_seed_demo_creates_users_friends_requests_and_a_conversation_and_prints_passwords():
    output = seed()
    # events: 3 requests, 1 accepted, 3 messages (each a new_message and a message_sent)
    assert counts() == (3, 1, 2, 3, 10)
    for username in ("alice", "bob", "charlie"):
        line = next(line for line in output.splitlines() if line.strip().startswith(username))
        password = line.split()[-1]
        assert authenticate(username=username, password=password) is not None


def test_seed_demo_run_twice_changes_nothing_and_prints_no_password():
    first = seed()
    before = counts()
    password_of_alice = next(l for l in first.splitlines() if "alice" in l).split()[-1]  # noqa: E741
    second = seed()
    assert counts() == before
    assert "already exist" in second
    assert password_of_alice not in second
    assert authenticate(username="alice", password=password_of_alice) is not None
