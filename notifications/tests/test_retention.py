"""`manage.py prune_notifications`: retention of stored events."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from notifications.models import Notification

pytestmark = pytest.mark.django_db


def event(user, *, age_days: float, read: bool) -> Notification:
    created = timezone.now() - timedelta(days=age_days)
    return Notification.objects.create(
        recipient=user, type="new_message", data={}, created_at=created,
        read_at=created if read else None,
    )  # fmt: skip


def test_pruning_deletes_old_read_and_very_old_unread_events_only(alice, bob):
    keep = [
        event(alice, age_days=29, read=True),
        event(alice, age_days=89, read=False),
        event(bob, age_days=1, read=False),
    ]
    event(alice, age_days=31, read=True)
    event(bob, age_days=91, read=False)
    event(bob, age_days=200, read=True)
    out = StringIO()
    call_command("prune_notifications", "--batch-size", "1", stdout=out)
    assert "Deleted 3 event(s)." in out.getvalue()
    assert sorted(Notification.objects.values_list("id", flat=True)) == [e.id for e in keep]


def test_pruning_takes_its_ages_from_the_options(alice):
    event(alice, age_days=3, read=True)
    kept = event(alice, age_days=3, read=False)
    call_command("prune_notifications", "--read-days", "2", "--unread-days", "5", stdout=StringIO())
    assert list(Notification.objects.values_list("id", flat=True)) == [kept.id]


def test_pruning_refuses_negative_ages():
    with pytest.raises(CommandError):
        call_command("prune_notifications", "--read-days", "-1", stdout=StringIO())
