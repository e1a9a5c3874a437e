"""Friends services and selectors: the rules, the constraints and the events they store."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from django.db import IntegrityError, transaction

from friends import selectors, services
from friends.models import FriendRequest, Friendship, ordered_pair
from notifications.models import Notification
from notifications.services import user_group_name
from numeneon.errors import ApplicationError, Forbidden, NotFound
from tests.helpers import are_friends, events_for, friend_accepted, nothing_arrives, summary

pytestmark = pytest.mark.django_db


def send(actor, to_user) -> services.RequestOutcome:
    return services.friend_request_send(actor=actor, to_user_id=to_user.pk)


def end(request: FriendRequest, ending: str) -> None:
    """The addressee accepts or declines the pending `request`, or its sender cancels it."""
    if ending == "accept":
        services.friend_request_accept(actor=request.to_user, request_id=request.pk)
    elif ending == "decline":
        services.friend_request_decline(actor=request.to_user, request_id=request.pk)
    else:
        services.friend_request_cancel(actor=request.from_user, to_user_id=request.to_user_id)


# --- Sending ---------------------------------------------------------------------------------


def test_sending_a_request_stores_one_pending_request(alice, bob):
    outcome = send(alice, bob)

    assert outcome.friend is None
    request = FriendRequest.objects.get()
    assert outcome.request.pk == request.pk
    assert request.from_user_id == alice.pk
    assert request.to_user_id == bob.pk
    assert request.status == FriendRequest.Status.PENDING
    assert request.responded_at is None
    assert not are_friends(alice, bob)


def test_sending_a_request_to_yourself_is_refused(alice):
    with pytest.raises(ApplicationError) as raised:
        services.friend_request_send(actor=alice, to_user_id=alice.pk)

    assert raised.value.code == "cannot_friend_self"
    assert raised.value.status_code == 400
    assert not FriendRequest.objects.exists()


def test_sending_a_request_to_an_unknown_user_is_not_found(alice):
    with pytest.raises(NotFound) as raised:
        services.friend_request_send(actor=alice, to_user_id=alice.pk + 1000)

    assert raised.value.code == "user_not_found"
    assert raised.value.status_code == 404
    assert not FriendRequest.objects.exists()


def test_sending_a_request_to_an_inactive_user_is_not_found(alice, make_user):
    ghost = make_user("ghost", is_active=False)

    with pytest.raises(NotFound) as raised:
        send(alice, ghost)

    assert raised.value.code == "user_not_found"
    assert not FriendRequest.objects.exists()


def test_sending_a_request_to_a_friend_is_refused(alice, bob, befriend):
    befriend(alice, bob)

    with pytest.raises(ApplicationError) as raised:
        send(alice, bob)

    assert raised.value.code == "already_friends"
    assert raised.value.status_code == 400
    assert not FriendRequest.objects.exists()


def test_sending_a_second_request_to_the_same_user_is_refused(alice, bob):
    send(alice, bob)

    with pytest.raises(ApplicationError) as raised:
        send(alice, bob)

    assert raised.value.code == "already_requested"
    assert raised.value.status_code == 400
    assert FriendRequest.objects.count() == 1


def test_sending_a_request_to_someone_who_already_asked_you_accepts_theirs(alice, bob):
    theirs = send(bob, alice).request

    outcome = send(alice, bob)

    assert outcome.friend == bob
    assert outcome.request.pk == theirs.pk
    theirs.refresh_from_db()
    assert theirs.status == FriendRequest.Status.ACCEPTED
    assert theirs.responded_at is not None
    assert are_friends(alice, bob)
    assert FriendRequest.objects.count() == 1


def test_a_lost_race_for_the_pending_slot_is_reported_as_already_requested(alice, bob, monkeypatch):
    # Bob's request is committed while Alice's check still saw none: the constraint decides.
    FriendRequest.objects.create(from_user=bob, to_user=alice)
    monkeypatch.setattr(selectors, "pending_request", lambda **_: None)

    with pytest.raises(ApplicationError) as raised:
        send(alice, bob)

    assert raised.value.code == "already_requested"
    # The failed insert was rolled back to its savepoint: the transaction is still usable.
    assert FriendRequest.objects.count() == 1
    assert events_for(alice) == []
    assert events_for(bob) == []


# --- Accepting -------------------------------------------------------------------------------


def test_accepting_a_request_makes_both_users_friends(alice, bob):
    request = send(alice, bob).request

    friend = services.friend_request_accept(actor=bob, request_id=request.pk)

    assert friend == alice
    request.refresh_from_db()
    assert request.status == FriendRequest.Status.ACCEPTED
    assert request.responded_at is not None
    assert are_friends(alice, bob)
    assert Friendship.objects.count() == 1
    friendship = Friendship.objects.get()
    assert (friendship.user_low_id, friendship.user_high_id) == ordered_pair(alice.pk, bob.pk)


def test_accepting_an_unknown_request_is_not_found(bob):
    with pytest.raises(NotFound) as raised:
        services.friend_request_accept(actor=bob, request_id=123456)

    assert raised.value.code == "request_not_found"


def test_accepting_a_request_addressed_to_someone_else_is_forbidden(alice, bob, charlie):
    request = send(alice, bob).request

    with pytest.raises(Forbidden) as raised:
        services.friend_request_accept(actor=charlie, request_id=request.pk)

    assert raised.value.code == "not_your_request"
    assert raised.value.status_code == 403
    request.refresh_from_db()
    assert request.status == FriendRequest.Status.PENDING
    assert not Friendship.objects.exists()


def test_the_sender_cannot_accept_their_own_request(alice, bob):
    request = send(alice, bob).request

    with pytest.raises(Forbidden):
        services.friend_request_accept(actor=alice, request_id=request.pk)

    request.refresh_from_db()
    assert request.status == FriendRequest.Status.PENDING
    assert not are_friends(alice, bob)


@pytest.mark.parametrize("ending", ["accept", "decline", "cancel"])
def test_accepting_a_request_that_is_no_longer_pending_is_not_found(alice, bob, ending):
    request = send(alice, bob).request
    end(request, ending)

    with pytest.raises(NotFound) as raised:
        services.friend_request_accept(actor=bob, request_id=request.pk)

    assert raised.value.code == "request_not_found"


# --- Declining -------------------------------------------------------------------------------


def test_declining_a_request_marks_it_declined_and_makes_no_friendship(alice, bob):
    request = send(alice, bob).request

    services.friend_request_decline(actor=bob, request_id=request.pk)

    request.refresh_from_db()
    assert request.status == FriendRequest.Status.DECLINED
    assert request.responded_at is not None
    assert not are_friends(alice, bob)


def test_declining_an_unknown_request_is_not_found(bob):
    with pytest.raises(NotFound):
        services.friend_request_decline(actor=bob, request_id=123456)


def test_declining_a_request_addressed_to_someone_else_is_forbidden(alice, bob, charlie):
    request = send(alice, bob).request

    for intruder in (charlie, alice):
        with pytest.raises(Forbidden):
            services.friend_request_decline(actor=intruder, request_id=request.pk)

    request.refresh_from_db()
    assert request.status == FriendRequest.Status.PENDING


@pytest.mark.parametrize("ending", ["accept", "decline", "cancel"])
def test_declining_a_request_that_is_no_longer_pending_is_not_found(alice, bob, ending):
    request = send(alice, bob).request
    end(request, ending)

    status_before = FriendRequest.objects.get(pk=request.pk).status

    with pytest.raises(NotFound):
        services.friend_request_decline(actor=bob, request_id=request.pk)

    request.refresh_from_db()
    assert request.status == status_before


@pytest.mark.parametrize("first_sender", ["alice", "bob"])
def test_after_a_decline_a_new_request_between_the_same_two_is_allowed(alice, bob, first_sender):
    sender, addressee = (alice, bob) if first_sender == "alice" else (bob, alice)
    request = send(sender, addressee).request
    services.friend_request_decline(actor=addressee, request_id=request.pk)

    again = send(alice, bob)

    assert again.friend is None
    assert again.request.status == FriendRequest.Status.PENDING
    assert again.request.pk != request.pk
    assert not are_friends(alice, bob)
    assert FriendRequest.objects.filter(status=FriendRequest.Status.PENDING).count() == 1


# --- Cancelling ------------------------------------------------------------------------------


def test_cancelling_withdraws_your_pending_request(alice, bob):
    request = send(alice, bob).request

    services.friend_request_cancel(actor=alice, to_user_id=bob.pk)

    request.refresh_from_db()
    assert request.status == FriendRequest.Status.CANCELLED
    assert request.responded_at is not None
    assert list(selectors.incoming_requests(user=bob)) == []
    assert list(selectors.outgoing_requests(user=alice)) == []


def test_cancelling_without_a_pending_request_is_not_found(alice, bob):
    with pytest.raises(NotFound) as raised:
        services.friend_request_cancel(actor=alice, to_user_id=bob.pk)

    assert raised.value.code == "request_not_found"


def test_the_addressee_cannot_cancel_a_request_they_received(alice, bob):
    request = send(alice, bob).request

    with pytest.raises(NotFound):
        services.friend_request_cancel(actor=bob, to_user_id=alice.pk)

    request.refresh_from_db()
    assert request.status == FriendRequest.Status.PENDING


def test_cancelling_an_accepted_request_is_not_found(alice, bob):
    request = send(alice, bob).request
    services.friend_request_accept(actor=bob, request_id=request.pk)

    with pytest.raises(NotFound):
        services.friend_request_cancel(actor=alice, to_user_id=bob.pk)

    assert are_friends(alice, bob)


def test_after_a_cancel_a_new_request_is_allowed(alice, bob):
    send(alice, bob)
    services.friend_request_cancel(actor=alice, to_user_id=bob.pk)

    again = send(alice, bob)

    assert again.request.status == FriendRequest.Status.PENDING
    assert FriendRequest.objects.count() == 2


def test_after_a_cancel_the_other_person_may_ask_in_turn(alice, bob):
    send(alice, bob)
    services.friend_request_cancel(actor=alice, to_user_id=bob.pk)

    outcome = send(bob, alice)

    # Alice's cancelled request must not be accepted behind her back.
    assert outcome.friend is None
    assert outcome.request.from_user_id == bob.pk
    assert not are_friends(alice, bob)


# --- Removing --------------------------------------------------------------------------------


def test_removing_a_friend_ends_the_friendship_both_ways(alice, bob, befriend):
    befriend(alice, bob)

    services.friendship_remove(actor=bob, user_id=alice.pk)

    assert not are_friends(alice, bob)
    assert list(selectors.friend_list(user=alice)) == []
    assert list(selectors.friend_list(user=bob)) == []


@pytest.mark.parametrize("remover", ["alice", "bob"])
def test_either_friend_can_remove_the_other(alice, bob, befriend, remover):
    befriend(alice, bob)
    actor, other = (alice, bob) if remover == "alice" else (bob, alice)

    services.friendship_remove(actor=actor, user_id=other.pk)

    assert not Friendship.objects.exists()


def test_removing_someone_who_is_not_a_friend_is_not_found(alice, bob, charlie, befriend):
    befriend(alice, charlie)

    with pytest.raises(NotFound) as raised:
        services.friendship_remove(actor=alice, user_id=bob.pk)

    assert raised.value.code == "not_friends"
    assert are_friends(alice, charlie)


def test_removing_yourself_is_not_found(alice):
    with pytest.raises(NotFound):
        services.friendship_remove(actor=alice, user_id=alice.pk)


def test_removing_a_friend_leaves_other_friendships_alone(alice, bob, charlie, befriend):
    befriend(alice, bob)
    befriend(alice, charlie)
    befriend(bob, charlie)

    services.friendship_remove(actor=alice, user_id=bob.pk)

    assert are_friends(alice, charlie)
    assert are_friends(bob, charlie)
    assert not are_friends(alice, bob)


def test_after_removing_a_friend_a_new_request_is_allowed(alice, bob):
    request = send(alice, bob).request
    services.friend_request_accept(actor=bob, request_id=request.pk)
    services.friendship_remove(actor=alice, user_id=bob.pk)

    again = send(bob, alice)

    assert again.friend is None
    assert again.request.status == FriendRequest.Status.PENDING


# --- Selectors -------------------------------------------------------------------------------


def test_the_friend_list_is_symmetric(alice, bob, charlie, befriend):
    befriend(bob, alice)
    befriend(charlie, alice)

    assert set(selectors.friend_list(user=alice)) == {bob, charlie}
    assert list(selectors.friend_list(user=bob)) == [alice]
    assert list(selectors.friend_list(user=charlie)) == [alice]


def test_request_lists_hold_only_pending_requests_in_their_direction(
    alice, bob, charlie, make_user
):
    dave = make_user("dave")
    to_bob = send(alice, bob).request
    to_charlie = send(alice, charlie).request
    from_dave = send(dave, alice).request
    services.friend_request_decline(actor=charlie, request_id=to_charlie.pk)

    assert [r.pk for r in selectors.outgoing_requests(user=alice)] == [to_bob.pk]
    assert [r.pk for r in selectors.incoming_requests(user=alice)] == [from_dave.pk]
    assert [r.pk for r in selectors.incoming_requests(user=bob)] == [to_bob.pk]
    assert list(selectors.incoming_requests(user=charlie)) == []


# --- Database constraints --------------------------------------------------------------------


def test_the_database_allows_one_pending_request_per_pair_in_the_same_direction(alice, bob):
    FriendRequest.objects.create(from_user=alice, to_user=bob)

    with pytest.raises(IntegrityError), transaction.atomic():
        FriendRequest.objects.create(from_user=alice, to_user=bob)


def test_the_database_allows_one_pending_request_per_pair_in_either_direction(alice, bob):
    FriendRequest.objects.create(from_user=alice, to_user=bob)

    with pytest.raises(IntegrityError), transaction.atomic():
        FriendRequest.objects.create(from_user=bob, to_user=alice)


@pytest.mark.parametrize(
    "status",
    [
        FriendRequest.Status.ACCEPTED,
        FriendRequest.Status.DECLINED,
        FriendRequest.Status.CANCELLED,
    ],
)
def test_the_database_allows_a_pending_request_beside_finished_ones(alice, bob, status):
    FriendRequest.objects.create(from_user=alice, to_user=bob, status=status)
    FriendRequest.objects.create(from_user=bob, to_user=alice, status=status)

    FriendRequest.objects.create(from_user=alice, to_user=bob)

    assert FriendRequest.objects.count() == 3


def test_the_database_allows_pending_requests_between_different_pairs(alice, bob, charlie):
    FriendRequest.objects.create(from_user=alice, to_user=bob)
    FriendRequest.objects.create(from_user=alice, to_user=charlie)
    FriendRequest.objects.create(from_user=charlie, to_user=bob)

    assert FriendRequest.objects.count() == 3


def test_the_database_refuses_a_request_to_yourself(alice):
    with pytest.raises(IntegrityError), transaction.atomic():
        FriendRequest.objects.create(from_user=alice, to_user=alice)


def test_the_database_refuses_a_friendship_stored_in_the_wrong_order(alice, bob):
    low, high = ordered_pair(alice.pk, bob.pk)

    with pytest.raises(IntegrityError), transaction.atomic():
        Friendship.objects.create(user_low_id=high, user_high_id=low)


def test_the_database_refuses_a_duplicate_friendship(alice, bob, befriend):
    befriend(alice, bob)

    with pytest.raises(IntegrityError), transaction.atomic():
        befriend(bob, alice)


# --- Events ----------------------------------------------------------------------------------


def test_sending_a_request_stores_one_friend_request_event_for_the_addressee(alice, bob):
    request = send(alice, bob).request

    [event] = events_for(bob)
    assert event.type == "friend_request"
    assert event.read_at is None
    assert event.data == {"request_id": request.pk, "from_user": summary(alice)}
    assert events_for(alice) == []


def test_accepting_a_request_stores_one_friend_accepted_event_for_the_requester(alice, bob):
    request = send(alice, bob).request

    services.friend_request_accept(actor=bob, request_id=request.pk)

    [event] = events_for(alice)
    assert event.type == "friend_accepted"
    assert event.data == friend_accepted(request.pk, bob)
    # Bob holds only the request he received.
    assert [e.type for e in events_for(bob)] == ["friend_request"]


def test_asking_someone_who_already_asked_you_notifies_them_of_the_acceptance(alice, bob):
    theirs = send(bob, alice).request

    send(alice, bob)

    [event] = events_for(bob)
    assert event.type == "friend_accepted"
    assert event.data == friend_accepted(theirs.pk, alice)
    # Alice got Bob's request and nothing for her own send.
    assert [e.type for e in events_for(alice)] == ["friend_request"]


def test_declining_a_request_stores_one_event_for_the_requester_and_nobody_else(
    alice, bob, charlie
):
    request = send(alice, bob).request
    before = Notification.objects.count()

    services.friend_request_decline(actor=bob, request_id=request.pk)

    [event] = Notification.objects.order_by("id")[before:]
    assert event.recipient_id == alice.pk
    assert event.type == "friend_request_declined"
    assert event.read_at is None
    assert event.data == {"request_id": request.pk, "by": summary(bob)}
    assert [e.type for e in events_for(bob)] == ["friend_request"]
    assert events_for(charlie) == []


def test_cancelling_a_request_stores_one_event_for_the_addressee_and_nobody_else(
    alice, bob, charlie
):
    request = send(alice, bob).request

    services.friend_request_cancel(actor=alice, to_user_id=bob.pk)

    first, event = events_for(bob)
    assert first.type == "friend_request"
    assert event.type == "friend_request_cancelled"
    assert event.read_at is None
    assert event.data == {"request_id": request.pk, "from_user": summary(alice)}
    assert events_for(alice) == []
    assert events_for(charlie) == []


@pytest.mark.parametrize("remover", ["alice", "bob"])
def test_removing_a_friend_stores_one_event_naming_the_remover_for_the_other_alone(
    alice, bob, charlie, befriend, remover
):
    befriend(alice, bob)
    befriend(alice, charlie)
    actor, other = (alice, bob) if remover == "alice" else (bob, alice)

    services.friendship_remove(actor=actor, user_id=other.pk)

    [event] = events_for(other)
    assert event.type == "friend_removed"
    assert event.read_at is None
    assert event.data == {"user": summary(actor)}
    assert events_for(actor) == []
    assert events_for(charlie) == []


def test_a_refused_request_stores_no_event(alice, bob, befriend):
    befriend(alice, bob)

    with pytest.raises(ApplicationError):
        send(alice, bob)

    assert not Notification.objects.exists()


def test_a_repeated_request_stores_no_second_event(alice, bob):
    send(alice, bob)

    with pytest.raises(ApplicationError):
        send(alice, bob)

    assert len(events_for(bob)) == 1


def test_a_forbidden_accept_stores_no_event(alice, bob, charlie):
    request = send(alice, bob).request
    before = Notification.objects.count()

    with pytest.raises(Forbidden):
        services.friend_request_accept(actor=charlie, request_id=request.pk)

    assert Notification.objects.count() == before


def test_a_request_schedules_its_push_only_on_commit(
    alice, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        send(alice, bob)

    assert len(callbacks) == 1


def test_a_refused_request_schedules_no_push(
    alice, bob, befriend, django_capture_on_commit_callbacks
):
    befriend(alice, bob)

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ApplicationError):
        send(alice, bob)

    assert callbacks == []


def _decline_cancel_or_remove(operation: str, alice, bob, charlie) -> None:
    """alice asked bob; alice and charlie are friends."""
    if operation == "decline":
        request = FriendRequest.objects.get(from_user=alice, to_user=bob)
        services.friend_request_decline(actor=bob, request_id=request.pk)
    elif operation == "cancel":
        services.friend_request_cancel(actor=alice, to_user_id=bob.pk)
    else:
        services.friendship_remove(actor=alice, user_id=charlie.pk)


# Who is told of each: the requester of a decline, the addressee of a cancel, the friend left.
TOLD = {
    "decline": ("alice", "friend_request_declined"),
    "cancel": ("bob", "friend_request_cancelled"),
    "remove": ("charlie", "friend_removed"),
}


@pytest.mark.parametrize("operation", ["decline", "cancel", "remove"])
def test_declining_cancelling_and_removing_push_to_the_other_person_only_after_commit(
    alice, bob, charlie, befriend, django_capture_on_commit_callbacks, in_memory_layer, operation
):
    send(alice, bob)
    befriend(alice, charlie)
    people = {"alice": alice, "bob": bob, "charlie": charlie}
    layer = in_memory_layer
    channels = {}
    for name, person in people.items():
        channels[name] = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(user_group_name(person.pk), channels[name])
    told, event_type = TOLD[operation]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _decline_cancel_or_remove(operation, alice, bob, charlie)
        # Inside the transaction: stored, but nothing sent yet.
        assert events_for(people[told])[-1].type == event_type
        assert nothing_arrives(layer, channels[told])

    assert len(callbacks) == 1
    message = async_to_sync(layer.receive)(channels[told])
    event = events_for(people[told])[-1]
    assert message["id"] == event.pk
    frame = json.loads(message["text"])
    assert (frame["type"], frame["id"], frame["data"]) == (event_type, event.pk, event.data)
    for name in people.keys() - {told}:
        assert nothing_arrives(layer, channels[name]), name


@pytest.mark.parametrize("operation", ["decline", "cancel", "remove"])
def test_a_rolled_back_decline_cancel_or_remove_stores_and_pushes_nothing(
    alice, bob, charlie, befriend, django_capture_on_commit_callbacks, in_memory_layer, operation
):
    send(alice, bob)
    befriend(alice, charlie)
    before = Notification.objects.count()
    told, _ = TOLD[operation]
    layer = in_memory_layer
    channel = async_to_sync(layer.new_channel)()
    told_user = {"alice": alice, "bob": bob, "charlie": charlie}[told]
    async_to_sync(layer.group_add)(user_group_name(told_user.pk), channel)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            _decline_cancel_or_remove(operation, alice, bob, charlie)
            raise RuntimeError("something later in the same transaction failed")

    assert callbacks == []
    assert Notification.objects.count() == before
    assert nothing_arrives(layer, channel)


def test_the_pushed_frame_reaches_the_addressee_group_only_after_commit(
    alice, bob, django_capture_on_commit_callbacks, in_memory_layer
):
    layer = in_memory_layer
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group_name(bob.pk), channel)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            request = send(alice, bob).request
            # Inside the transaction: stored, but nothing sent yet.
            assert len(events_for(bob)) == 1
            assert nothing_arrives(layer, channel)

        assert len(callbacks) == 1
        message = async_to_sync(layer.receive)(channel)
    finally:
        async_to_sync(layer.group_discard)(user_group_name(bob.pk), channel)

    [event] = events_for(bob)
    assert message["id"] == event.pk
    frame = json.loads(message["text"])
    assert frame["type"] == "friend_request"
    assert frame["id"] == event.pk
    assert frame["data"] == {"request_id": request.pk, "from_user": summary(alice)}


def test_an_accept_pushes_to_the_requester_only_after_commit(
    alice, bob, django_capture_on_commit_callbacks, in_memory_layer
):
    request = send(alice, bob).request
    layer = in_memory_layer
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group_name(alice.pk), channel)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            services.friend_request_accept(actor=bob, request_id=request.pk)
            assert nothing_arrives(layer, channel)

        assert len(callbacks) == 1
        message = async_to_sync(layer.receive)(channel)
    finally:
        async_to_sync(layer.group_discard)(user_group_name(alice.pk), channel)

    frame = json.loads(message["text"])
    assert frame["type"] == "friend_accepted"
    assert frame["data"] == {
        "request_id": request.pk,
        "from_user": summary(bob),
        "friend": summary(bob),
        "message": "bob accepted your friend request.",
    }
