"""Every write to friendships: request, accept, decline, cancel, remove."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_get_active
from friends import selectors
from friends.models import FriendRequest, Friendship, ordered_pair
from notifications import events
from notifications.models import EventType
from notifications.services import notify
from numeneon.errors import ApplicationError, Forbidden, NotFound


@dataclass(frozen=True)
class RequestOutcome:
    request: FriendRequest
    # Set when the other person had already asked: their request was accepted instead.
    friend: User | None = None


def _request_not_found() -> NotFound:
    return NotFound("request_not_found", "No pending friend request with that id.")


@transaction.atomic
def friend_request_send(*, actor: User, to_user_id: int) -> RequestOutcome:
    if to_user_id == actor.pk:
        raise ApplicationError(
            "cannot_friend_self", "You cannot send a friend request to yourself."
        )
    to_user = user_get_active(user_id=to_user_id)
    if to_user is None:
        raise NotFound("user_not_found", "No such user.")
    # Locked first: if their request is being accepted or cancelled right now, wait for
    # that to commit and decide on what it left, not on what was there before.
    theirs = selectors.pending_request(from_id=to_user.pk, to_id=actor.pk, for_update=True)
    if theirs is not None:
        friend = friend_request_accept(actor=actor, request_id=theirs.pk)
        return RequestOutcome(request=theirs, friend=friend)
    if selectors.are_friends(user_id=actor.pk, other_id=to_user.pk):
        raise ApplicationError("already_friends", "You are already friends.")

    if selectors.pending_request(from_id=actor.pk, to_id=to_user.pk) is not None:
        raise ApplicationError("already_requested", "You have already sent this person a request.")
    try:
        with transaction.atomic():
            request = FriendRequest.objects.create(from_user=actor, to_user=to_user)
    except IntegrityError:
        # A concurrent request between the same two people won the one pending slot (it has
        # committed by now). If it is theirs, the two asked each other at the same instant:
        # accept it, as if it had come first, and they are friends with nothing pending.
        theirs = selectors.pending_request(from_id=to_user.pk, to_id=actor.pk, for_update=True)
        if theirs is not None:
            friend = friend_request_accept(actor=actor, request_id=theirs.pk)
            return RequestOutcome(request=theirs, friend=friend)
        raise ApplicationError(
            "already_requested", "A friend request between you two is already pending."
        ) from None
    notify(
        recipient_id=to_user.pk,
        event_type=EventType.FRIEND_REQUEST,
        data=events.friend_request_data(request_id=request.pk, from_user=actor),
    )
    return RequestOutcome(request=request)


def _pending_request_for_update(*, actor: User, request_id: int) -> FriendRequest:
    request = (
        FriendRequest.objects.select_for_update()
        .filter(pk=request_id, status=FriendRequest.Status.PENDING)
        .first()
    )
    if request is None:
        raise _request_not_found()
    if request.to_user_id != actor.pk:
        raise Forbidden("not_your_request", "This friend request is not addressed to you.")
    return request


# The event that tells the other person how a request ended.
_ENDING_EVENT = {
    FriendRequest.Status.ACCEPTED: EventType.FRIEND_ACCEPTED,
    FriendRequest.Status.DECLINED: EventType.FRIEND_REQUEST_DECLINED,
    FriendRequest.Status.CANCELLED: EventType.FRIEND_REQUEST_CANCELLED,
}


def _respond(request: FriendRequest, status: FriendRequest.Status, *, data: dict) -> None:
    """End the pending `request` with `status` and tell the person at its other end: the
    sender when the addressee accepts or declines, the addressee when the sender cancels."""
    request.status = status
    request.responded_at = timezone.now()
    request.save(update_fields=["status", "responded_at"])
    told = request.to_user_id if status == FriendRequest.Status.CANCELLED else request.from_user_id
    notify(recipient_id=told, event_type=_ENDING_EVENT[status], data=data)


@transaction.atomic
def friend_request_accept(*, actor: User, request_id: int) -> User:
    """Accept a request addressed to `actor`; returns the new friend (who asked)."""
    request = _pending_request_for_update(actor=actor, request_id=request_id)
    low, high = ordered_pair(request.from_user_id, request.to_user_id)
    Friendship.objects.get_or_create(user_low_id=low, user_high_id=high)
    data = events.friend_accepted_data(request_id=request.pk, accepter=actor)
    _respond(request, FriendRequest.Status.ACCEPTED, data=data)
    return User.objects.get(pk=request.from_user_id)


@transaction.atomic
def friend_request_decline(*, actor: User, request_id: int) -> None:
    request = _pending_request_for_update(actor=actor, request_id=request_id)
    data = events.friend_request_declined_data(request_id=request.pk, decliner=actor)
    _respond(request, FriendRequest.Status.DECLINED, data=data)


@transaction.atomic
def friend_request_cancel(*, actor: User, to_user_id: int) -> None:
    request = (
        FriendRequest.objects.select_for_update()
        .filter(from_user=actor, to_user_id=to_user_id, status=FriendRequest.Status.PENDING)
        .first()
    )
    if request is None:
        raise NotFound("request_not_found", "You have no pending request to that user.")
    data = events.friend_request_cancelled_data(request_id=request.pk, from_user=actor)
    _respond(request, FriendRequest.Status.CANCELLED, data=data)


@transaction.atomic
def friendship_remove(*, actor: User, user_id: int) -> None:
    low, high = ordered_pair(actor.pk, user_id)
    deleted, _ = Friendship.objects.filter(user_low_id=low, user_high_id=high).delete()
    if not deleted:
        raise NotFound("not_friends", "You are not friends with that user.")
    notify(
        recipient_id=user_id,
        event_type=EventType.FRIEND_REMOVED,
        data=events.friend_removed_data(remover=actor),
    )
