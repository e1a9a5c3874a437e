"""services.socket_open: the one database call a socket makes when it opens."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from notifications.models import EventType, SocketSession
from notifications.services import notify, socket_open

pytestmark = pytest.mark.django_db


def statements(run) -> tuple[object, list[str]]:
    """What `run()` returns and the statements it ran, without transaction control."""
    with CaptureQueriesContext(connection) as captured:
        result = run()
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")
    sqls = [q["sql"] for q in captured.captured_queries]
    return result, [sql for sql in sqls if not sql.upper().startswith(control)]


def open_socket(user_id: int, channel: str = "chan-1", limit: int = 20, replay_after=None):
    return socket_open(
        user_id=user_id,
        channel_name=channel,
        limit=limit,
        replay_after=replay_after,
        replay_limit=501,
    )


def test_a_user_opens_a_socket_in_four_queries(alice):
    event = notify(recipient_id=alice.pk, event_type=EventType.FRIEND_REQUEST, data={})
    opening, sqls = statements(lambda: open_socket(alice.pk))
    # The user's state, the socket's row, the sockets beyond the cap, the newest event id.
    assert len(sqls) == 4, sqls
    assert opening.refused is None
    assert opening.newest == event.id and opening.evicted == [] and opening.missed == []
    assert SocketSession.objects.filter(user=alice, channel_name="chan-1").exists()


def test_resuming_adds_one_query_for_the_missed_events(alice):
    first = notify(recipient_id=alice.pk, event_type=EventType.FRIEND_REQUEST, data={})
    second = notify(recipient_id=alice.pk, event_type=EventType.FRIEND_REQUEST, data={})
    opening, sqls = statements(lambda: open_socket(alice.pk, replay_after=first.id - 1))
    assert len(sqls) == 5, sqls
    assert [event.id for event in opening.missed] == [first.id, second.id]


def test_a_deleted_user_is_refused_with_4001_and_nothing_is_registered(alice):
    user_id = alice.pk
    alice.delete()
    opening, sqls = statements(lambda: open_socket(user_id))
    assert len(sqls) == 1, sqls
    assert opening.refused == 4001
    assert not SocketSession.objects.exists()


def test_an_inactive_user_is_refused_with_4003_and_nothing_is_registered(alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert open_socket(alice.pk).refused == 4003
    assert not SocketSession.objects.exists()


def test_the_socket_over_the_cap_evicts_the_oldest(alice):
    for number in range(3):
        assert open_socket(alice.pk, channel=f"chan-{number}", limit=3).evicted == []
    assert open_socket(alice.pk, channel="chan-3", limit=3).evicted == ["chan-0"]
    remaining = SocketSession.objects.filter(user=alice).values_list("channel_name", flat=True)
    assert sorted(remaining) == ["chan-1", "chan-2", "chan-3"]
