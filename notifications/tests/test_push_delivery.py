"""Web Push delivery against a push service stand-in (tests/pushservice.py): what is queued at
commit, what the worker sends, and what it does with each answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from friends.services import friend_request_accept, friend_request_send
from messages_app.services import message_send
from notifications import pushsend, pushworker
from notifications.models import EventType, Notification, PushDelivery, PushSubscription
from notifications.services import notify, push_subscription_save
from tests.helpers import wait_until


@pytest.fixture
def subscribe(push_service):
    def make(user, device=None):
        device = device or push_service.new_device()
        push_subscription_save(
            user=user, endpoint=device.endpoint, p256dh=device.p256dh, auth=device.auth_b64
        )
        return device

    return make


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a service as a request does: its after-commit work runs when it returns."""

    def run(function, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(**kwargs)

    return run


def deliver_all() -> int:
    return pushworker.deliver_due()


pytestmark = pytest.mark.django_db


def test_a_message_to_someone_with_no_socket_is_pushed_once_with_the_service_workers_payload(
    push_service, subscribe, committed, alice, bob, befriend
):
    befriend(alice, bob)
    phone = subscribe(bob)
    committed(notify, recipient_id=bob.pk, event_type=EventType.FRIEND_REQUEST, data={})
    message = committed(message_send, actor=alice, receiver_id=bob.pk, content="Tea at five?")
    event = Notification.objects.get(recipient=bob, type=EventType.NEW_MESSAGE)
    PushDelivery.objects.exclude(event=event).delete()

    assert deliver_all() == 1
    assert deliver_all() == 0
    [push] = push_service.pushes
    assert push_service.payloads_for(phone) == [
        {
            "title": "New message from alice",
            "body": "Tea at five?",
            "tag": f"message-{alice.pk}",
            "url": "/profile/alice",
            "unreadCount": 2,
            "type": "new_message",
            "id": event.id,
        }
    ]
    assert message.content == "Tea at five?"
    assert push.headers["urgency"] == "high"
    assert push.headers["topic"] == pushsend.topic(f"message-{alice.pk}")
    assert len(push.headers["topic"]) <= 32
    assert 86000 < int(push.headers["ttl"]) <= 86400
    assert push.headers["content-type"] == "application/octet-stream"
    assert not PushDelivery.objects.exists()


def test_friend_events_point_at_the_friends_page_with_normal_urgency(
    push_service, subscribe, committed, alice, bob
):
    phone = subscribe(bob)
    laptop = subscribe(alice)
    outcome = committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    assert deliver_all() == 1
    committed(friend_request_accept, actor=bob, request_id=outcome.request.pk)
    assert deliver_all() == 1

    [request] = push_service.payloads_for(phone)
    assert request["type"] == "friend_request"
    assert (request["title"], request["url"]) == ("New friend request", "/friends")
    assert request["body"] == "alice sent you a friend request."
    [accepted] = push_service.payloads_for(laptop)
    assert accepted["type"] == "friend_accepted"
    assert (accepted["url"], accepted["body"]) == ("/friends", "bob accepted your friend request.")
    assert {push.headers["urgency"] for push in push_service.pushes} == {"normal"}


def test_each_subscription_of_the_person_gets_the_push(
    push_service, subscribe, committed, alice, bob
):
    phone, laptop = subscribe(bob), subscribe(bob)
    subscribe(alice)
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    assert deliver_all() == 2
    assert len(push_service.payloads_for(phone)) == len(push_service.payloads_for(laptop)) == 1


def test_only_friend_requests_acceptances_and_messages_are_pushed(
    push_service, subscribe, committed, alice
):
    subscribe(alice)
    for event_type in EventType:
        committed(notify, recipient_id=alice.pk, event_type=event_type, data={})
    pushed = set(PushDelivery.objects.values_list("event__type", flat=True))
    assert pushed == {"friend_request", "friend_accepted", "new_message"}


def test_an_event_rolled_back_pushes_nothing(push_service, subscribe, committed, alice, bob):
    subscribe(bob)

    def send_then_fail(**kwargs):
        with transaction.atomic():
            friend_request_send(**kwargs)
            raise RuntimeError("the operation failed after the event was stored")

    with pytest.raises(RuntimeError):
        committed(send_then_fail, actor=alice, to_user_id=bob.pk)
    assert not PushDelivery.objects.exists()
    assert deliver_all() == 0
    assert push_service.requests == 0


def test_without_keys_nothing_is_queued(push_service, subscribe, committed, settings, alice, bob):
    subscribe(bob)
    settings.WEB_PUSH_ENABLED = False
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    assert not PushDelivery.objects.exists()


def test_push_on_costs_a_message_to_someone_without_a_subscription_no_statement(
    push_service, subscribe, settings, alice, bob, befriend, django_capture_on_commit_callbacks
):
    """The statements of a message, its after-commit work included, by push off and on."""
    befriend(alice, bob)

    def statements() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            with django_capture_on_commit_callbacks(execute=True):
                message_send(actor=alice, receiver_id=bob.pk, content="Tea?")
        return [q["sql"].split()[0] for q in queries.captured_queries]

    settings.WEB_PUSH_ENABLED = False
    off = statements()
    settings.WEB_PUSH_ENABLED = True
    assert statements() == off
    assert not PushDelivery.objects.exists()
    subscribe(bob)
    assert statements() == [*off, "INSERT"]  # the push it owes
    assert PushDelivery.objects.count() == 1


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_no_longer_knows_is_deleted(
    push_service, subscribe, committed, alice, bob, status
):
    subscribe(bob)
    kept = subscribe(bob)
    push_service.answers.append((status, {}))
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    assert deliver_all() == 2
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [kept.endpoint]
    assert len(push_service.pushes) == 1
    assert not PushDelivery.objects.exists()


@pytest.mark.parametrize(
    "answer", [(429, {"Retry-After": "0.3"}), (503, {}), (500, {"Retry-After": "0"})]
)
def test_a_busy_push_service_gets_the_push_again_later(
    push_service, subscribe, committed, alice, bob, answer
):
    phone = subscribe(bob)
    push_service.answers += [answer, answer]
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    before = timezone.now()
    assert deliver_all() == 1
    delivery = PushDelivery.objects.get()
    assert delivery.attempts == 1 and delivery.sending_since is None
    if answer[1].get("Retry-After") == "0.3":
        # Retry-After is honoured when it is longer than the backoff (0.05 s here).
        assert (delivery.due_at - before).total_seconds() >= 0.3
        assert deliver_all() == 0
    wait_until_due()
    deliver_all()
    wait_until_due()
    deliver_all()
    assert len(push_service.payloads_for(phone)) == 1
    assert push_service.requests == 3
    assert not PushDelivery.objects.exists()


def wait_until_due() -> None:
    wait_until(lambda: not PushDelivery.objects.filter(due_at__gt=timezone.now()).exists(), 5.0)


def test_a_push_retried_waits_for_the_next_round_however_short_its_backoff(
    push_service, subscribe, committed, alice, bob, settings
):
    settings.PUSH_RETRY_BASE_SECONDS = 0  # due again at once: a slow machine's case
    phone = subscribe(bob)
    push_service.answers += [(503, {}), (503, {})]
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    assert [deliver_all(), deliver_all(), deliver_all(), deliver_all()] == [1, 1, 1, 0]
    assert push_service.requests == 3
    assert len(push_service.payloads_for(phone)) == 1


def test_a_push_service_that_is_down_gets_the_push_when_it_is_back(
    push_service, subscribe, committed, alice, bob
):
    phone = subscribe(bob)
    push_service.stop()  # connection refused
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    assert deliver_all() == 1
    assert PushDelivery.objects.get().attempts == 1
    push_service.start()
    wait_until_due()
    assert deliver_all() == 1
    assert len(push_service.payloads_for(phone)) == 1
    assert not PushDelivery.objects.exists()


def test_a_push_is_given_up_after_its_ttl(push_service, subscribe, committed, settings, alice, bob):
    subscribe(bob)
    settings.PUSH_TTL_SECONDS = 1
    settings.PUSH_RETRY_BASE_SECONDS = 2.0
    push_service.answers.append((503, {}))
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    assert deliver_all() == 1
    # The next try (2 s) would come after the TTL (1 s): given up.
    assert not PushDelivery.objects.exists()
    assert push_service.pushes == []


def test_a_subscription_moved_to_another_person_gets_nothing_of_the_first(
    push_service, subscribe, committed, alice, bob, charlie
):
    shared = subscribe(bob)
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    subscribe(charlie, device=shared)  # the browser is charlie's now
    assert deliver_all() == 1
    assert push_service.requests == 0
    committed(friend_request_send, actor=alice, to_user_id=charlie.pk)
    assert deliver_all() == 1
    [push] = push_service.pushes
    assert push.payload["id"] == Notification.objects.get(recipient=charlie).id


def test_an_inactive_person_gets_nothing(push_service, subscribe, committed, alice, bob):
    subscribe(bob)
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    assert deliver_all() == 1
    assert push_service.requests == 0
    assert not PushDelivery.objects.exists()


def test_a_deleted_person_is_owed_nothing(push_service, subscribe, committed, alice, bob):
    subscribe(bob)
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    bob.delete()
    assert not PushDelivery.objects.exists()


def test_a_host_that_resolves_to_a_loopback_address_is_refused_at_send_time(
    push_service, committed, alice, bob
):
    # Accepted once (DNS said public then, say); "localhost" resolves to 127.0.0.1 now, and
    # only "127.0.0.1:<port>" is listed.
    device = push_service.new_device()
    PushSubscription.objects.create(
        user=bob,
        endpoint=f"https://localhost:{push_service.port}/push/0",
        p256dh=device.p256dh,
        auth=device.auth_b64,
    )
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    assert deliver_all() == 1
    assert push_service.requests == 0
    assert not PushDelivery.objects.exists()


def test_a_claim_left_by_a_worker_that_died_mid_send_is_never_sent_again(
    push_service, subscribe, committed, alice, bob
):
    subscribe(bob)
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    long_ago = timezone.now() - timedelta(seconds=pushworker.stale_claim_seconds() + 1)
    PushDelivery.objects.update(sending_since=long_ago, due_at=long_ago)
    assert deliver_all() == 0  # claimed: not sent by anyone else
    assert pushworker.drop_stale(timezone.now()) == 1
    assert deliver_all() == 0
    assert push_service.requests == 0


def test_a_push_sent_but_not_answered_is_not_sent_again(
    push_service, subscribe, committed, alice, bob
):
    phone = subscribe(bob)
    push_service.answers.append((0, {}))  # the push arrives, the connection drops
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    assert deliver_all() == 1
    assert not PushDelivery.objects.exists()
    assert len(push_service.payloads_for(phone)) == 1


def test_a_retry_after_beyond_the_ttl_gives_the_push_up(
    push_service, subscribe, committed, settings, alice, bob
):
    subscribe(bob)
    settings.PUSH_TTL_SECONDS = 60
    push_service.answers.append((429, {"Retry-After": "3600"}))
    committed(friend_request_send, actor=alice, to_user_id=bob.pk)
    assert deliver_all() == 1
    assert not PushDelivery.objects.exists()
    assert push_service.pushes == []
