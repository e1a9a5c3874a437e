"""The Friends endpoints as CONTRACT.md describes them: paths, status codes and bodies."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from friends.models import FriendRequest, Friendship
from notifications.models import Notification
from tests.helpers import (
    are_friends,
    assert_error,
    assert_iso_utc,
    friend_accepted,
    profile_user,
    summary,
)

pytestmark = pytest.mark.django_db

BASE = "/api/friends/"


def assert_requests_listed(
    response, other: str, expected: list[tuple[FriendRequest, User]]
) -> None:
    """A 200 listing the expected requests, oldest first, each naming the other person under
    the key `other` (from_user for incoming, to_user for sent), field by field."""
    assert response.status_code == 200
    items = sorted(response.json(), key=lambda r: r["id"])
    assert len(items) == len(expected)
    for item, (request, person) in zip(items, expected, strict=True):
        assert set(item) == {"id", other, "created_at"}
        assert item["id"] == request.pk
        assert item[other] == summary(person)
        assert_iso_utc(item["created_at"], request.created_at)


def queries_for_one_and_six(client, url: str, add) -> tuple[int, int]:
    """How many queries GET `url` costs with one entry, then with six: `add(n)` adds entry n."""
    add(0)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for n in range(1, 6):
        add(n)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.json()) == 6
    return len(one), len(many)


def assert_not_found(response) -> None:
    """A 404 in the contract's error body, whichever code names what was missing."""
    assert response.status_code == 404, (response.status_code, response.content)
    code = response.json().get("code")
    assert isinstance(code, str) and code
    assert_error(response, 404, code)


def send_request(client, user):
    return client.post(f"{BASE}request/{user.pk}/")


@pytest.fixture
def pending(alice, bob) -> FriendRequest:
    """A pending request from alice to bob."""
    return FriendRequest.objects.create(from_user=alice, to_user=bob)


# --- Authentication --------------------------------------------------------------------------

ENDPOINTS = [
    ("get", ""),
    ("get", "requests/"),
    ("get", "requests/sent/"),
    ("post", "request/1/"),
    ("post", "accept/1/"),
    ("post", "decline/1/"),
    ("delete", "cancel/1/"),
    ("delete", "remove/1/"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_refuses_an_unauthenticated_client_with_401(anon, method, path):
    response = getattr(anon, method)(BASE + path)

    assert_error(response, 401, "not_authenticated")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_refuses_a_forged_token_with_401(anon, method, path):
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")

    response = getattr(anon, method)(BASE + path)

    assert_error(response, 401, "token_not_valid")


def test_an_unauthenticated_request_changes_nothing(anon, alice, bob):
    anon.post(f"{BASE}request/{bob.pk}/")

    assert not FriendRequest.objects.exists()
    assert not Notification.objects.exists()


# --- Ids that do not fit a 64-bit column -----------------------------------------------------


@pytest.mark.parametrize("method, path", [(m, p) for m, p in ENDPOINTS if "1/" in p])
@pytest.mark.parametrize(
    "huge_id",
    ["99999999999999999999", "9223372036854775808", "9223372036854775807", "999999999999999999"],
)
def test_an_id_too_large_for_the_database_is_a_404_not_a_500(as_alice, method, path, huge_id):
    response = getattr(as_alice, method)(BASE + path.replace("1/", f"{huge_id}/"))

    assert_not_found(response)


def test_sending_a_request_to_a_huge_id_is_404_and_stores_nothing(as_alice):
    response = as_alice.post(f"{BASE}request/99999999999999999999/")

    assert_not_found(response)
    assert not FriendRequest.objects.exists()


@pytest.mark.parametrize("bad_id", ["0", "abc", "-1", "1.5"])
def test_a_path_id_that_is_not_a_positive_integer_is_404(as_alice, bad_id):
    response = as_alice.post(f"{BASE}request/{bad_id}/")

    assert_not_found(response)


# --- GET / (the friend list) -----------------------------------------------------------------


def test_the_friend_list_is_empty_without_friends(as_alice):
    response = as_alice.get(BASE)

    assert response.status_code == 200
    assert response.json() == []


def test_the_friend_list_shows_both_sides_of_a_friendship(
    alice, bob, charlie, as_alice, as_bob, as_charlie, befriend
):
    befriend(alice, bob)

    [bobs_friend] = as_bob.get(BASE).json()
    [alices_friend] = as_alice.get(BASE).json()

    assert bobs_friend == summary(alice)
    assert alices_friend == summary(bob)
    assert as_charlie.get(BASE).json() == []


def test_the_friend_list_holds_every_friend_and_no_one_else(
    alice, bob, charlie, make_user, as_alice, befriend
):
    make_user("dave")
    befriend(alice, bob)
    befriend(charlie, alice)

    response = as_alice.get(BASE)

    assert response.status_code == 200
    friends = sorted(response.json(), key=lambda u: u["id"])
    assert friends == sorted([summary(bob), summary(charlie)], key=lambda u: u["id"])
    for friend in friends:
        assert "email" not in friend


def test_a_pending_request_does_not_make_a_friend(as_alice, as_bob, pending):
    assert as_alice.get(BASE).json() == []
    assert as_bob.get(BASE).json() == []


def test_the_friend_list_costs_the_same_queries_for_one_friend_or_many(
    alice, make_user, as_alice, befriend
):
    one, many = queries_for_one_and_six(
        as_alice, BASE, add=lambda n: befriend(alice, make_user(f"friend{n}"))
    )
    assert many == one


# --- GET requests/ ---------------------------------------------------------------------------


def test_incoming_requests_list_each_pending_request_field_by_field(
    alice, bob, charlie, as_bob, pending
):
    from_charlie = FriendRequest.objects.create(from_user=charlie, to_user=bob)

    response = as_bob.get(f"{BASE}requests/")

    assert_requests_listed(response, "from_user", [(pending, alice), (from_charlie, charlie)])


def test_incoming_requests_leave_out_sent_and_finished_requests(
    alice, bob, charlie, make_user, as_bob, pending
):
    dave = make_user("dave")
    FriendRequest.objects.create(from_user=bob, to_user=charlie)
    for status in ("accepted", "declined", "cancelled"):
        FriendRequest.objects.create(from_user=dave, to_user=bob, status=status)

    response = as_bob.get(f"{BASE}requests/")

    assert [item["id"] for item in response.json()] == [pending.pk]


def test_the_sender_does_not_see_their_request_as_incoming(as_alice, pending):
    assert as_alice.get(f"{BASE}requests/").json() == []


def test_incoming_requests_cost_the_same_queries_for_one_or_many(bob, make_user, as_bob):
    one, many = queries_for_one_and_six(
        as_bob,
        f"{BASE}requests/",
        add=lambda n: FriendRequest.objects.create(from_user=make_user(f"asker{n}"), to_user=bob),
    )
    assert many == one


# --- GET requests/sent/ ----------------------------------------------------------------------


def test_sent_requests_list_each_pending_request_field_by_field(
    alice, bob, charlie, as_alice, pending
):
    to_charlie = FriendRequest.objects.create(from_user=alice, to_user=charlie)

    response = as_alice.get(f"{BASE}requests/sent/")

    assert_requests_listed(response, "to_user", [(pending, bob), (to_charlie, charlie)])


def test_sent_requests_leave_out_received_and_finished_requests(
    alice, bob, charlie, as_alice, pending
):
    FriendRequest.objects.create(from_user=charlie, to_user=alice)
    FriendRequest.objects.create(from_user=alice, to_user=charlie, status="declined")
    FriendRequest.objects.create(from_user=alice, to_user=charlie, status="cancelled")

    response = as_alice.get(f"{BASE}requests/sent/")

    assert [item["id"] for item in response.json()] == [pending.pk]


def test_the_addressee_does_not_see_the_request_as_sent(as_bob, pending):
    assert as_bob.get(f"{BASE}requests/sent/").json() == []


def test_sent_requests_cost_the_same_queries_for_one_or_many(alice, make_user, as_alice):
    one, many = queries_for_one_and_six(
        as_alice,
        f"{BASE}requests/sent/",
        add=lambda n: FriendRequest.objects.create(
            from_user=alice, to_user=make_user(f"target{n}")
        ),
    )
    assert many == one


# --- POST request/<user_id>/ -----------------------------------------------------------------


def test_sending_a_request_answers_201_with_the_request(alice, bob, as_alice):
    response = send_request(as_alice, bob)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"message", "request"}
    assert isinstance(body["message"], str) and body["message"]
    request = FriendRequest.objects.get()
    assert request.status == FriendRequest.Status.PENDING
    sent = body["request"]
    assert set(sent) == {"id", "from_user", "to_user", "created_at"}
    assert sent["id"] == request.pk
    assert sent["from_user"] == summary(alice)
    assert sent["to_user"] == summary(bob)
    assert_iso_utc(sent["created_at"], request.created_at)


def test_a_sent_request_shows_up_on_both_sides(alice, bob, as_alice, as_bob):
    request_id = send_request(as_alice, bob).json()["request"]["id"]

    assert [r["id"] for r in as_alice.get(f"{BASE}requests/sent/").json()] == [request_id]
    assert [r["id"] for r in as_bob.get(f"{BASE}requests/").json()] == [request_id]


def test_sending_a_request_to_yourself_is_400_cannot_friend_self(alice, as_alice):
    response = send_request(as_alice, alice)

    assert_error(response, 400, "cannot_friend_self")
    assert not FriendRequest.objects.exists()


def test_sending_a_second_request_is_400_already_requested(bob, as_alice, pending):
    response = send_request(as_alice, bob)

    assert_error(response, 400, "already_requested")
    assert FriendRequest.objects.count() == 1


def test_sending_a_request_to_a_friend_is_400_already_friends(alice, bob, as_alice, befriend):
    befriend(alice, bob)

    response = send_request(as_alice, bob)

    assert_error(response, 400, "already_friends")
    assert not FriendRequest.objects.exists()


def test_sending_a_request_to_an_unknown_user_is_404(alice, as_alice):
    response = as_alice.post(f"{BASE}request/{alice.pk + 1000}/")

    assert_error(response, 404, "user_not_found")


def test_sending_a_request_to_an_inactive_user_is_404(as_alice, make_user):
    ghost = make_user("ghost", is_active=False)

    response = send_request(as_alice, ghost)

    assert_error(response, 404, "user_not_found")
    assert not FriendRequest.objects.exists()


def test_asking_someone_who_already_asked_you_accepts_their_request(
    alice, bob, as_bob, as_alice, pending
):
    response = send_request(as_bob, alice)

    assert response.status_code == 201
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    assert body["friend"] == summary(alice)
    assert body["request"]["id"] == pending.pk
    assert body["request"]["from_user"] == summary(alice)
    assert body["request"]["to_user"] == summary(bob)
    pending.refresh_from_db()
    assert pending.status == FriendRequest.Status.ACCEPTED
    assert FriendRequest.objects.count() == 1
    assert are_friends(alice, bob)
    assert [u["id"] for u in as_alice.get(BASE).json()] == [bob.pk]
    assert as_alice.get(f"{BASE}requests/sent/").json() == []
    assert as_bob.get(f"{BASE}requests/").json() == []


def test_wrong_method_is_405_with_the_error_body(as_alice, bob):
    response = as_alice.get(f"{BASE}request/{bob.pk}/")

    assert_error(response, 405, "method_not_allowed")


# --- POST accept/<request_id>/ ---------------------------------------------------------------


def test_accepting_a_request_answers_201_with_the_new_friend(alice, bob, as_bob, pending):
    response = as_bob.post(f"{BASE}accept/{pending.pk}/")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"message", "friend"}
    assert isinstance(body["message"], str) and body["message"]
    assert body["friend"] == summary(alice)


def test_accepting_a_request_makes_both_users_friends(alice, bob, as_alice, as_bob, pending):
    as_bob.post(f"{BASE}accept/{pending.pk}/")

    assert [u["id"] for u in as_alice.get(BASE).json()] == [bob.pk]
    assert [u["id"] for u in as_bob.get(BASE).json()] == [alice.pk]
    assert as_bob.get(f"{BASE}requests/").json() == []
    assert as_alice.get(f"{BASE}requests/sent/").json() == []


def test_accepting_an_unknown_request_is_404(as_bob):
    response = as_bob.post(f"{BASE}accept/123456/")

    assert_error(response, 404, "request_not_found")


def test_accepting_a_request_addressed_to_someone_else_is_403(as_charlie, pending):
    response = as_charlie.post(f"{BASE}accept/{pending.pk}/")

    assert_error(response, 403, "not_your_request")
    pending.refresh_from_db()
    assert pending.status == FriendRequest.Status.PENDING
    assert not Friendship.objects.exists()


def test_the_sender_accepting_their_own_request_is_403(alice, bob, as_alice, pending):
    response = as_alice.post(f"{BASE}accept/{pending.pk}/")

    assert_error(response, 403, "not_your_request")
    pending.refresh_from_db()
    assert pending.status == FriendRequest.Status.PENDING
    assert not are_friends(alice, bob)


@pytest.mark.parametrize("status", ["accepted", "declined", "cancelled"])
def test_accepting_a_request_that_is_no_longer_pending_is_404(alice, bob, as_bob, pending, status):
    FriendRequest.objects.filter(pk=pending.pk).update(status=status)

    response = as_bob.post(f"{BASE}accept/{pending.pk}/")

    assert_error(response, 404, "request_not_found")
    assert Friendship.objects.exists() is False


def test_accepting_twice_is_404_the_second_time(as_bob, pending):
    assert as_bob.post(f"{BASE}accept/{pending.pk}/").status_code == 201

    response = as_bob.post(f"{BASE}accept/{pending.pk}/")

    assert_error(response, 404, "request_not_found")
    assert Friendship.objects.count() == 1


def test_accepting_after_a_decline_is_404(as_bob, pending):
    as_bob.post(f"{BASE}decline/{pending.pk}/")

    response = as_bob.post(f"{BASE}accept/{pending.pk}/")

    assert_error(response, 404, "request_not_found")
    assert not Friendship.objects.exists()


def test_accepting_after_a_cancel_is_404(bob, as_alice, as_bob, pending):
    as_alice.delete(f"{BASE}cancel/{bob.pk}/")

    response = as_bob.post(f"{BASE}accept/{pending.pk}/")

    assert_error(response, 404, "request_not_found")
    assert not Friendship.objects.exists()


# --- POST decline/<request_id>/ --------------------------------------------------------------


def test_declining_a_request_answers_200_and_makes_no_friendship(
    alice, bob, as_alice, as_bob, pending
):
    response = as_bob.post(f"{BASE}decline/{pending.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"message"}
    assert isinstance(body["message"], str) and body["message"]
    pending.refresh_from_db()
    assert pending.status == FriendRequest.Status.DECLINED
    assert not are_friends(alice, bob)
    assert as_bob.get(f"{BASE}requests/").json() == []
    assert as_alice.get(f"{BASE}requests/sent/").json() == []


def test_declining_an_unknown_request_is_404(as_bob):
    response = as_bob.post(f"{BASE}decline/123456/")

    assert_error(response, 404, "request_not_found")


@pytest.mark.parametrize("who", ["sender", "stranger"])
def test_declining_a_request_addressed_to_someone_else_is_403(as_alice, as_charlie, pending, who):
    client = as_alice if who == "sender" else as_charlie

    response = client.post(f"{BASE}decline/{pending.pk}/")

    assert_error(response, 403, "not_your_request")
    pending.refresh_from_db()
    assert pending.status == FriendRequest.Status.PENDING


@pytest.mark.parametrize("status", ["accepted", "declined", "cancelled"])
def test_declining_a_request_that_is_no_longer_pending_is_404(as_bob, pending, status):
    FriendRequest.objects.filter(pk=pending.pk).update(status=status)

    response = as_bob.post(f"{BASE}decline/{pending.pk}/")

    assert_error(response, 404, "request_not_found")
    pending.refresh_from_db()
    assert pending.status == status


@pytest.mark.parametrize("asker", ["alice", "bob"])
def test_after_a_decline_a_new_request_between_the_same_two_is_allowed(
    alice, bob, as_alice, as_bob, pending, asker
):
    as_bob.post(f"{BASE}decline/{pending.pk}/")
    client, other = (as_alice, bob) if asker == "alice" else (as_bob, alice)

    response = send_request(client, other)

    assert response.status_code == 201
    assert "friend" not in response.json()
    assert response.json()["request"]["id"] != pending.pk
    assert not are_friends(alice, bob)


# --- DELETE cancel/<user_id>/ ----------------------------------------------------------------


def test_cancelling_a_request_answers_200_and_withdraws_it(bob, as_alice, as_bob, pending):
    response = as_alice.delete(f"{BASE}cancel/{bob.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"message"}
    assert isinstance(body["message"], str) and body["message"]
    pending.refresh_from_db()
    assert pending.status == FriendRequest.Status.CANCELLED
    assert as_alice.get(f"{BASE}requests/sent/").json() == []
    assert as_bob.get(f"{BASE}requests/").json() == []


def test_cancelling_without_a_pending_request_is_404(bob, as_alice):
    response = as_alice.delete(f"{BASE}cancel/{bob.pk}/")

    assert_error(response, 404, "request_not_found")


def test_cancelling_a_request_to_an_unknown_user_is_404(alice, as_alice):
    response = as_alice.delete(f"{BASE}cancel/{alice.pk + 1000}/")

    assert_error(response, 404, "request_not_found")


def test_the_addressee_cannot_cancel_a_received_request(alice, as_bob, pending):
    response = as_bob.delete(f"{BASE}cancel/{alice.pk}/")

    assert_error(response, 404, "request_not_found")
    pending.refresh_from_db()
    assert pending.status == FriendRequest.Status.PENDING


def test_cancelling_twice_is_404_the_second_time(bob, as_alice, pending):
    assert as_alice.delete(f"{BASE}cancel/{bob.pk}/").status_code == 200

    response = as_alice.delete(f"{BASE}cancel/{bob.pk}/")

    assert_error(response, 404, "request_not_found")


def test_cancelling_an_accepted_request_is_404_and_keeps_the_friendship(
    alice, bob, as_alice, as_bob, pending
):
    as_bob.post(f"{BASE}accept/{pending.pk}/")

    response = as_alice.delete(f"{BASE}cancel/{bob.pk}/")

    assert_error(response, 404, "request_not_found")
    assert are_friends(alice, bob)


def test_after_a_cancel_a_new_request_is_allowed(bob, as_alice, pending):
    as_alice.delete(f"{BASE}cancel/{bob.pk}/")

    response = send_request(as_alice, bob)

    assert response.status_code == 201
    assert response.json()["request"]["id"] != pending.pk
    assert FriendRequest.objects.filter(status="pending").count() == 1


# --- DELETE remove/<user_id>/ ----------------------------------------------------------------


def test_removing_a_friend_answers_200_and_ends_it_both_ways(
    alice, bob, as_alice, as_bob, befriend
):
    befriend(alice, bob)

    response = as_alice.delete(f"{BASE}remove/{bob.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"message"}
    assert isinstance(body["message"], str) and body["message"]
    assert as_alice.get(BASE).json() == []
    assert as_bob.get(BASE).json() == []
    assert not Friendship.objects.exists()


def test_the_other_friend_can_remove_too(alice, bob, as_bob, befriend):
    befriend(alice, bob)

    response = as_bob.delete(f"{BASE}remove/{alice.pk}/")

    assert response.status_code == 200
    assert not are_friends(alice, bob)


def test_removing_someone_who_is_not_a_friend_is_404(alice, bob, charlie, as_alice, befriend):
    befriend(bob, charlie)

    response = as_alice.delete(f"{BASE}remove/{bob.pk}/")

    assert_error(response, 404, "not_friends")
    assert are_friends(bob, charlie)


def test_removing_an_unknown_user_is_404(alice, as_alice):
    response = as_alice.delete(f"{BASE}remove/{alice.pk + 1000}/")

    assert_error(response, 404, "not_friends")


def test_removing_twice_is_404_the_second_time(alice, bob, as_alice, befriend):
    befriend(alice, bob)
    as_alice.delete(f"{BASE}remove/{bob.pk}/")

    response = as_alice.delete(f"{BASE}remove/{bob.pk}/")

    assert_error(response, 404, "not_friends")


def test_after_removing_a_friend_a_new_request_is_allowed(alice, bob, as_alice, as_bob, pending):
    as_bob.post(f"{BASE}accept/{pending.pk}/")
    as_alice.delete(f"{BASE}remove/{bob.pk}/")

    response = send_request(as_bob, alice)

    assert response.status_code == 201
    assert "friend" not in response.json()


# --- Events, as seen through the API ---------------------------------------------------------


def test_sending_a_request_stores_one_friend_request_event_for_the_addressee(alice, bob, as_alice):
    request_id = send_request(as_alice, bob).json()["request"]["id"]

    [event] = Notification.objects.filter(recipient=bob)
    assert event.type == "friend_request"
    assert set(event.data) == {"request_id", "from_user"}
    assert event.data["request_id"] == request_id
    assert event.data["from_user"] == summary(alice)
    assert not Notification.objects.filter(recipient=alice).exists()


def test_accepting_a_request_stores_one_friend_accepted_event_for_the_requester(
    alice, bob, as_bob, pending
):
    as_bob.post(f"{BASE}accept/{pending.pk}/")

    [event] = Notification.objects.filter(recipient=alice)
    assert event.type == "friend_accepted"
    assert set(event.data) == {"request_id", "from_user", "friend", "message"}
    assert event.data["request_id"] == pending.pk
    assert event.data["from_user"] == summary(bob)
    assert event.data["friend"] == summary(bob)
    assert event.data["message"] == "bob accepted your friend request."
    assert not Notification.objects.filter(recipient=bob).exists()


def test_asking_back_stores_a_friend_accepted_event_and_no_friend_request(
    alice, bob, as_bob, pending
):
    send_request(as_bob, alice)

    [event] = Notification.objects.all()
    assert event.recipient_id == alice.pk
    assert event.type == "friend_accepted"
    assert event.data == friend_accepted(pending.pk, bob)


FEED = "/api/notifications/"


def test_declining_tells_the_requester_alone_and_their_feed_lists_it(
    alice, bob, as_alice, as_bob, pending
):
    as_bob.post(f"{BASE}decline/{pending.pk}/")

    [event] = Notification.objects.all()
    assert event.recipient_id == alice.pk
    feed = as_alice.get(FEED, {"after": 0}).json()
    assert [(e["id"], e["type"]) for e in feed] == [(event.pk, "friend_request_declined")]
    assert feed[0]["data"] == {"request_id": pending.pk, "by": summary(bob)}
    assert feed[0]["read_at"] is None
    assert as_bob.get(FEED, {"after": 0}).json() == []


def test_cancelling_tells_the_addressee_alone_and_their_feed_lists_it(
    alice, bob, as_alice, as_bob, pending
):
    as_alice.delete(f"{BASE}cancel/{bob.pk}/")

    [event] = Notification.objects.all()
    assert event.recipient_id == bob.pk
    feed = as_bob.get(FEED, {"after": 0}).json()
    assert [(e["id"], e["type"]) for e in feed] == [(event.pk, "friend_request_cancelled")]
    assert feed[0]["data"] == {"request_id": pending.pk, "from_user": summary(alice)}
    assert as_alice.get(FEED, {"after": 0}).json() == []


def test_removing_tells_the_other_person_alone_and_their_feed_lists_it(
    alice, bob, as_alice, as_bob, befriend
):
    befriend(alice, bob)

    as_alice.delete(f"{BASE}remove/{bob.pk}/")

    [event] = Notification.objects.all()
    assert event.recipient_id == bob.pk
    feed = as_bob.get(FEED, {"after": 0}).json()
    assert [(e["id"], e["type"]) for e in feed] == [(event.pk, "friend_removed")]
    assert feed[0]["data"] == {"user": summary(alice)}
    assert as_alice.get(FEED, {"after": 0}).json() == []


@pytest.mark.parametrize("operation", ["decline", "cancel", "remove"])
def test_a_refused_decline_cancel_or_remove_stores_no_event(
    alice, bob, charlie, as_alice, as_charlie, pending, operation
):
    response = {
        "decline": lambda: as_charlie.post(f"{BASE}decline/{pending.pk}/"),  # not addressed
        "cancel": lambda: as_charlie.delete(f"{BASE}cancel/{bob.pk}/"),  # charlie never asked
        "remove": lambda: as_alice.delete(f"{BASE}remove/{charlie.pk}/"),  # not friends
    }[operation]()

    assert response.status_code in (403, 404)
    assert not Notification.objects.exists()


@pytest.mark.parametrize("failure", ["already_friends", "already_requested", "self", "unknown"])
def test_a_failed_request_stores_no_event(alice, bob, as_alice, befriend, failure):
    if failure == "already_friends":
        befriend(alice, bob)
    elif failure == "already_requested":
        FriendRequest.objects.create(from_user=alice, to_user=bob)
    target = {"self": alice.pk, "unknown": alice.pk + 1000}.get(failure, bob.pk)

    response = as_alice.post(f"{BASE}request/{target}/")

    assert response.status_code in (400, 404)
    assert not Notification.objects.exists()


@pytest.mark.parametrize("who", ["sender", "stranger"])
def test_a_forbidden_accept_stores_no_event(as_alice, as_charlie, pending, who):
    client = as_alice if who == "sender" else as_charlie

    client.post(f"{BASE}accept/{pending.pk}/")

    assert not Notification.objects.exists()


def test_a_sent_request_is_pushed_only_on_commit(bob, as_alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = send_request(as_alice, bob)

    assert response.status_code == 201
    assert len(callbacks) == 1


def test_a_refused_request_schedules_no_push(
    alice, bob, as_alice, befriend, django_capture_on_commit_callbacks
):
    befriend(alice, bob)

    with django_capture_on_commit_callbacks() as callbacks:
        response = send_request(as_alice, bob)

    assert response.status_code == 400
    assert callbacks == []


# --- suggestions/ ---------------------------------------------------------------------------

SUGGESTIONS = BASE + "suggestions/"


def test_suggestions_are_people_you_may_know_with_their_mutual_friend_counts(
    client_for, alice, bob, charlie, make_user, befriend
):
    from accounts.services import profile_update

    dave = make_user("dave", last_name="Dent")
    befriend(alice, bob)
    befriend(bob, charlie)
    profile_update(user=charlie, avatar="https://img.example.com/c.png")
    response = client_for(alice).get(SUGGESTIONS)
    assert response.status_code == 200
    assert response.json() == [
        {**profile_user(charlie, "https://img.example.com/c.png"), "mutual_friends_count": 1},
        {**profile_user(dave), "mutual_friends_count": 0},
    ]


def test_suggestions_default_to_twenty_and_cap_the_limit_at_fifty(client_for, alice, make_user):
    from accounts.models import User

    User.objects.bulk_create(
        [User(username=f"u{n:02d}", email=f"u{n:02d}@example.com") for n in range(60)]
    )
    client = client_for(alice)
    assert len(client.get(SUGGESTIONS).json()) == 20
    assert len(client.get(SUGGESTIONS, {"limit": 3}).json()) == 3
    assert len(client.get(SUGGESTIONS, {"limit": 50}).json()) == 50
    assert len(client.get(SUGGESTIONS, {"limit": 51}).json()) == 50
    assert len(client.get(SUGGESTIONS, {"limit": 10**18}).json()) == 50
    # However many digits: above the maximum is capped, not refused (the contract).
    assert len(client.get(SUGGESTIONS, {"limit": "9" * 30}).json()) == 50


@pytest.mark.parametrize("limit", ["-1", "0", "x", "", "1.5", "\uff15", "5e1", " "])
def test_a_suggestion_limit_that_is_not_a_positive_integer_is_a_400(client_for, alice, limit):
    response = client_for(alice).get(SUGGESTIONS, {"limit": limit})
    body = assert_error(response, 400, "validation_error")
    assert list(body["errors"]) == ["limit"]
    assert body["detail"] == f"limit: {body['errors']['limit'][0]}"


def test_a_limit_of_minus_one_gets_the_contracts_error_body(client_for, alice):
    response = client_for(alice).get(SUGGESTIONS, {"limit": -1})
    assert response.json() == {
        "detail": "limit: Must be a positive integer.",
        "error": "limit: Must be a positive integer.",
        "code": "validation_error",
        "errors": {"limit": ["Must be a positive integer."]},
    }


def test_suggestions_need_authentication(anon):
    assert_error(anon.get(SUGGESTIONS), 401, "not_authenticated")


def test_suggestions_take_a_bounded_number_of_queries(
    client_for, alice, make_user, befriend, django_assert_num_queries
):
    client = client_for(alice)
    for size in (2, 10):
        friends = [make_user(f"f{size}-{i}") for i in range(size)]
        for i, friend in enumerate(friends):
            befriend(alice, friend)
            befriend(friend, make_user(f"fof{size}-{i}"))
        # The token's user, friends of friends with their counts and profiles, the newest.
        with django_assert_num_queries(3):
            body = client.get(SUGGESTIONS).json()
        assert sum(entry["mutual_friends_count"] for entry in body) == len(
            [e for e in body if e["username"].startswith("fof")]
        )


def test_a_deactivated_friend_disappears_from_every_list_and_returns_with_them(
    client_for, alice, bob, charlie, befriend
):
    befriend(alice, bob)
    befriend(bob, charlie)  # bob would be charlie's way to alice
    User.objects.filter(pk=bob.pk).update(is_active=False)
    as_alice = client_for(alice)
    assert as_alice.get("/api/friends/").json() == []
    assert as_alice.get("/api/auth/search/", {"q": "bob"}).json() == []
    suggested = client_for(charlie).get("/api/friends/suggestions/").json()
    assert bob.pk not in [one["id"] for one in suggested]
    assert Friendship.objects.count() == 2  # the rows stay
    User.objects.filter(pk=bob.pk).update(is_active=True)
    assert [friend["id"] for friend in as_alice.get("/api/friends/").json()] == [bob.pk]
