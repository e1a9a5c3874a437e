"""Direct messages between two users."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

MAX_CONTENT_LENGTH = 5000


class Message(models.Model):
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="sent_messages",
        db_index=False,  # covered by message_thread
    )
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="received_messages"
    )
    content = models.TextField()
    is_read = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(sender=models.F("receiver")), name="message_not_to_self"
            ),
        ]
        indexes = [
            models.Index(fields=["sender", "receiver", "id"], name="message_thread"),
            models.Index(
                fields=["receiver", "sender"],
                condition=models.Q(is_read=False),
                name="message_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.sender_id} -> {self.receiver_id}"
