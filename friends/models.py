"""Friend requests and friendships; the invariants live in constraints, not in views."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Greatest, Least
from django.utils import timezone


class FriendRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        DECLINED = "declined"
        CANCELLED = "cancelled"

    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sent_friend_requests"
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="received_friend_requests",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(from_user=models.F("to_user")),
                name="friend_request_not_to_self",
            ),
            # At most one pending request between two people, whichever way it goes.
            models.UniqueConstraint(
                Least("from_user", "to_user"),
                Greatest("from_user", "to_user"),
                condition=models.Q(status="pending"),
                name="friend_request_one_pending_per_pair",
            ),
        ]
        indexes = [
            models.Index(
                fields=["to_user", "-created_at"],
                condition=models.Q(status="pending"),
                name="friend_request_incoming",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_user_id} -> {self.to_user_id} ({self.status})"


class Friendship(models.Model):
    """One row per pair, lower id first: symmetric by construction."""

    # No index of their own: the two below serve lookups by either side, and answer a user's
    # friends (and friends of friends) from the index alone.
    user_low = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    user_high = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["user_high", "user_low"], name="friendship_by_high"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user_low__lt=models.F("user_high")),
                name="friendship_ordered_pair",
            ),
            models.UniqueConstraint(fields=["user_low", "user_high"], name="friendship_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_low_id} <-> {self.user_high_id}"


def ordered_pair(a_id: int, b_id: int) -> tuple[int, int]:
    return (a_id, b_id) if a_id < b_id else (b_id, a_id)
