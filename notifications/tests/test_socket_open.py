"""services.socket_open: the one database call a socket makes when it opens."""

from __future__ import annotations

import pytest

from accounts.models import User
from notifications.models import EventType
from notifications.services import notify, socket_open
from tests.helpers import statements

pytestmark = pytest.mark.django_db


def open_socket(user_id: int, replay_after=None):
    return socket_open(user_id=user_id, replay_after=replay_after, replay_limit=501)


def test_a_user_opens_a_socket_in_one_query(alice):
    event = notify(recipient_id=alice.pk, event_type=EventType.FRIEND_REQUEST, data={})
    opening, sqls = statements(lambda: open_socket(alice.pk))
    # The user's state and the newest event id.
    assert len(sqls) == 1, sqls
    assert opening.refused is None
    assert opening.newest == event.id and opening.missed == []


def test_resuming_adds_one_query_for_the_missed_events(alice):
    first = notify(recipient_id=alice.pk, event_type=EventType.FRIEND_REQUEST, data={})
    second = notify(recipient_id=alice.pk, event_type=EventType.FRIEND_REQUEST, data={})
    opening, sqls = statements(lambda: open_socket(alice.pk, replay_after=first.id - 1))
    assert len(sqls) == 2, sqls
    assert [event.id for event in opening.missed] == [first.id, second.id]


def test_a_deleted_user_is_refused_with_4001(alice):
    user_id = alice.pk
    alice.delete()
    opening, sqls = statements(lambda: open_socket(user_id))
    assert len(sqls) == 1, sqls
    assert opening.refused == 4001


def test_an_inactive_user_is_refused_with_4003(alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert open_socket(alice.pk).refused == 4003
