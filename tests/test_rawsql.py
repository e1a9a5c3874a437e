"""numeneon.rawsql and the hot-path statements written with it: they must store and read
exactly what the ORM would, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from friends.selectors import _PARTY_FIELDS, _message_parties_sql, message_parties
from messages_app.models import Message
from notifications.models import EventType, Notification
from notifications.selectors import events_between, last_event_id, user_state
from numeneon import rawsql
from tests.helpers import statements

pytestmark = pytest.mark.django_db


def test_insert_stores_every_field_as_the_orm_reads_it_back(alice):
    created_at = timezone.now() - timedelta(days=3, microseconds=7)
    data = {"text": "naïve ✓ \"quoted\" 'single'", "nested": {"list": [1, 2.5, None, True]}}
    event = Notification(
        recipient_id=alice.pk, type=EventType.NEW_MESSAGE, data=data, created_at=created_at
    )
    _, sqls = statements(lambda: rawsql.insert(event))
    assert len(sqls) == 1, sqls
    assert isinstance(event.pk, int) and not event._state.adding
    stored = Notification.objects.get(pk=event.pk)
    assert stored.recipient_id == alice.pk
    assert stored.type == "new_message"
    assert stored.data == data
    assert stored.created_at == created_at
    assert stored.read_at is None


def test_insert_applies_field_defaults_and_foreign_keys(alice, bob):
    before = timezone.now()
    message = rawsql.insert(Message(sender=alice, receiver=bob, content="hi"))
    stored = Message.objects.get(pk=message.pk)
    assert (stored.sender_id, stored.receiver_id, stored.content) == (alice.pk, bob.pk, "hi")
    assert stored.is_read is False
    assert stored.created_at == message.created_at >= before


def test_inserted_ids_grow_like_the_orms(alice):
    by_orm = Notification.objects.create(recipient=alice, type="friend_request", data={})
    by_sql = rawsql.insert(Notification(recipient=alice, type="friend_request", data={}))
    assert by_sql.pk > by_orm.pk
    assert last_event_id(user_id=alice.pk) == by_sql.pk


def test_message_parties_reads_both_users_and_the_friendship(alice, bob, charlie, befriend):
    befriend(alice, bob)
    sender, receiver = message_parties(sender_id=alice.pk, receiver_id=bob.pk)
    assert (sender.pk, sender.username) == (alice.pk, "alice") and sender.is_active is True
    assert (receiver.pk, receiver.username, receiver.is_friend) == (bob.pk, "bob", True)
    # Any other field comes from the database when used, not an empty default.
    assert receiver.email == "bob@example.com"
    _, stranger = message_parties(sender_id=alice.pk, receiver_id=charlie.pk)
    assert stranger.is_friend is False
    sender, nobody = message_parties(sender_id=charlie.pk, receiver_id=10**9)
    assert sender.pk == charlie.pk and nobody is None


def test_message_parties_names_its_fields_in_the_models_order():
    # Model.from_db takes the values in the model's field order, whatever names it is given.
    order = [f.attname for f in User._meta.concrete_fields]
    assert sorted(_PARTY_FIELDS, key=order.index) == list(_PARTY_FIELDS)


def test_message_parties_locks_the_users_rows_where_the_database_can():
    sql = _message_parties_sql()
    if connection.features.has_select_for_no_key_update:
        assert sql.endswith("FOR NO KEY UPDATE"), sql
    else:
        assert "FOR " not in sql, sql


def test_user_state_is_one_statement(alice):
    assert user_state(user_id=alice.pk) == (True, 0)
    event = Notification.objects.create(recipient=alice, type="friend_request", data={})
    state, sqls = statements(lambda: user_state(user_id=alice.pk))
    assert state == (True, event.pk) and len(sqls) == 1
    type(alice).objects.filter(pk=alice.pk).update(is_active=False)
    assert user_state(user_id=alice.pk) == (False, event.pk)
    assert user_state(user_id=10**9) is None


@pytest.mark.parametrize(
    ("up_to", "limit"), [(None, None), ("third", None), (None, 2), ("third", 1)]
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
    bound = events[2].pk if up_to == "third" else None
    expected = Notification.objects.filter(recipient=alice, id__gt=events[0].pk).order_by("id")
    if bound is not None:
        expected = expected.filter(id__lte=bound)
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


def test_notify_locks_the_recipients_row_first_where_the_database_can(alice):
    from notifications.services import notify

    _, sqls = statements(
        lambda: notify(recipient_id=alice.pk, event_type=EventType.FRIEND_REQUEST, data={})
    )
    locks = [sql for sql in sqls if "FOR " in sql]
    if connection.features.has_select_for_no_key_update:
        assert locks == [sqls[0]] and sqls[0].endswith("FOR NO KEY UPDATE"), sqls
        assert rawsql.table(User) in sqls[0]
    else:
        assert locks == [], sqls
    assert len(sqls) == len(locks) + 2  # the newest event id, the insert
