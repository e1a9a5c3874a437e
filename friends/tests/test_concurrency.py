"""Two people asking each other at the same instant, over real concurrent transactions (on
PostgreSQL the interesting case: SQLite runs the two one after the other)."""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connection

from friends import services
from friends.models import FriendRequest, Friendship, ordered_pair
from numeneon.errors import ApplicationError

pytestmark = pytest.mark.django_db(transaction=True)


def ask_each_other(a, b) -> list[str]:
    """a and b each send the other a request at (nearly) the same instant; what each got."""
    barrier, outcomes = threading.Barrier(2), []

    def send(actor, other) -> None:
        try:
            barrier.wait()
            time.sleep(random.random() * 0.005)  # every interleaving, over the rounds
            outcome = services.friend_request_send(actor=actor, to_user_id=other.pk)
            outcomes.append("accepted theirs" if outcome.friend else "sent")
        except ApplicationError as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=pair) for pair in ((a, b), (b, a))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_two_people_asking_each_other_at_once_end_as_friends_with_nothing_pending(make_user):
    for round_number in range(40):
        a, b = make_user(f"a{round_number}"), make_user(f"b{round_number}")
        assert ask_each_other(a, b) == ["accepted theirs", "sent"]
        low, high = ordered_pair(a.pk, b.pk)
        assert Friendship.objects.filter(user_low_id=low, user_high_id=high).count() == 1
        assert not FriendRequest.objects.filter(
            from_user__in=[a, b], status=FriendRequest.Status.PENDING
        ).exists()
