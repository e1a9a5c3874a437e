"""services.socket_open: the one database call a socket makes when it opens, and the two
written-out statements it runs (selectors.user_state, selectors.events_between)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import User
from notifications.models import EventType, Notification
from notifications.selectors import events_between, user_state
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


def test_user_state_is_one_statement(alice):
    assert user_state(user_id=alice.pk) == (True, 0)
    event = Notification.objects.create(recipient=alice, type="friend_request", data={})
    state, sqls = statements(lambda: user_state(user_id=alice.pk))
    assert state == (True, event.pk) and len(sqls) == 1
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert user_state(user_id=alice.pk) == (False, event.pk)
    assert user_state(user_id=10**9) is None


@pytest.mark.parametrize(
    ("up_to", "limit"), [("last", None), ("third", None), ("last", 2), ("third", 1)]
)
def test_events_between_reads_what_a_queryset_reads(alice, bob, up_to, limit):
    events = [
        Notification.objects.create(
            recipient=alice, type="new_message", data={"n": n, "text": "é ✓", "list": [n, None]}
        )
        for n in range(4)
    ]
    Notification.objects.create(recipient=bob, type="friend_request", data={})
    Notification.objects.filter(pk=events[1].pk).update(read_at=timezone.now())
    bound = events[2].pk if up_to == "third" else events[-1].pk
    expected = Notification.objects.filter(recipient=alice, id__gt=events[0].pk, id__lte=bound)
    expected = expected.order_by("id")
    expected = list(expected[:limit] if limit is not None else expected)

    got, sqls = statements(
        lambda: events_between(user_id=alice.pk, after=events[0].pk, up_to=bound, limit=limit)
    )
    assert len(sqls) == 1
    fields = [f.attname for f in Notification._meta.concrete_fields]
    assert [[getattr(e, f) for f in fields] for e in got] == [
        [getattr(e, f) for f in fields] for e in expected
    ]
    assert got and isinstance(got[0].data, dict) and got[0].created_at.tzinfo is not None
    assert got[0].get_deferred_fields() == set()
