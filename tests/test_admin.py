"""The admin a moderator uses: every model listed, searchable and filterable."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from friends.models import FriendRequest
from messages_app.models import Message
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator(client, make_user):
    admin = make_user("mod", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


@pytest.fixture
def history(alice, bob, befriend):
    befriend(alice, bob)
    FriendRequest.objects.create(from_user=bob, to_user=alice, status="declined")
    Message.objects.create(sender=alice, receiver=bob, content="findable words")
    Notification.objects.create(recipient=bob, type="new_message", data={})


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("accounts_user", {"q": "alice"}),
        ("friends_friendrequest", {"q": "bob", "status__exact": "declined"}),
        ("friends_friendship", {"q": "alice"}),
        ("messages_app_message", {"q": "findable", "is_read__exact": "0"}),
        ("notifications_notification", {"q": "bob", "type__exact": "new_message"}),
    ],
)
def test_a_moderator_can_search_and_filter_every_model(moderator, history, model, query):
    response = moderator.get(reverse(f"admin:{model}_changelist"), query)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_deactivating_from_the_admin_goes_through_the_service(moderator, alice):
    url = reverse("admin:accounts_user_changelist")
    response = moderator.post(
        url, {"action": "deactivate", "_selected_action": [alice.pk]}, follow=True
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert not alice.is_active


def test_the_admin_is_closed_to_normal_users(client, alice):
    client.force_login(alice)
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302
    assert User.objects.filter(is_staff=True).count() == 0
