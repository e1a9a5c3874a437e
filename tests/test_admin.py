"""The admin a moderator uses: every model listed, searchable and filterable."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse

from accounts.models import User
from friends.models import FriendRequest
from messages_app.models import Message
from notifications.models import Notification
from notifications.services import user_group_name
from tests.helpers import nothing_arrives

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


def test_deactivating_from_the_admin_closes_the_users_sockets_after_commit(
    moderator, alice, bob, django_capture_on_commit_callbacks, in_memory_layer
):
    inbox = {}
    for person in (alice, bob):
        inbox[person] = async_to_sync(in_memory_layer.new_channel)()
        async_to_sync(in_memory_layer.group_add)(user_group_name(person.pk), inbox[person])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        moderator.post(
            reverse("admin:accounts_user_changelist"),
            {"action": "deactivate", "_selected_action": [alice.pk]},
        )
    assert len(callbacks) == 1  # the close waits for the commit
    message = async_to_sync(in_memory_layer.receive)(inbox[alice])
    assert message == {"type": "session.close", "code": 4003}
    assert nothing_arrives(in_memory_layer, inbox[bob])


def test_the_admin_is_closed_to_normal_users(client, alice):
    client.force_login(alice)
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302
    assert User.objects.filter(is_staff=True).count() == 0


def test_the_user_admin_shows_and_saves_the_profile(moderator, alice):
    from accounts.models import Profile
    from accounts.services import profile_update

    profile_update(user=alice, bio="Curious.", avatar="https://img.example.com/a.png")
    url = reverse("admin:accounts_user_change", args=[alice.pk])
    page = moderator.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Curious." in html
    assert "https://img.example.com/a.png" in html
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {
            "date_joined_0": alice.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": alice.date_joined.strftime("%H:%M:%S"),
            "is_active": "on",
            "profile-TOTAL_FORMS": "1",
            "profile-INITIAL_FORMS": "1",
            "profile-MIN_NUM_FORMS": "0",
            "profile-MAX_NUM_FORMS": "1",
            "profile-0-user": str(alice.pk),
            "profile-0-bio": "Moderated.",
            "profile-0-location": "",
            "profile-0-website": "",
            "profile-0-avatar": "",
        }
    )
    data.pop("last_login", None)
    data.pop("groups", None)
    data.pop("user_permissions", None)
    response = moderator.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Profile.objects.get(user=alice).bio == "Moderated."
