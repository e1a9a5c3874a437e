"""Stored events: every event pushed to a user is first a row here, so it can be replayed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class EventType(models.TextChoices):
    FRIEND_REQUEST = "friend_request"
    FRIEND_ACCEPTED = "friend_accepted"
    NEW_MESSAGE = "new_message"
    MESSAGES_READ = "messages_read"
    FRIEND_REQUEST_DECLINED = "friend_request_declined"
    FRIEND_REQUEST_CANCELLED = "friend_request_cancelled"
    FRIEND_REMOVED = "friend_removed"
    MESSAGE_SENT = "message_sent"


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,  # covered by the (recipient, id) index below
    )
    type = models.CharField(max_length=32, choices=EventType.choices)
    data = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["recipient", "id"], name="notification_recipient_id"),
            models.Index(
                fields=["recipient", "id"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.id} for user {self.recipient_id}"


class PushSubscription(models.Model):
    """One browser's Web Push subscription (RFC 8030): the push service URL our server POSTs
    to and the keys its payloads are encrypted with (RFC 8291). An endpoint is one browser
    profile: subscribing it again, as whoever is logged in there now, moves it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=2048, unique=True)
    p256dh = models.CharField(max_length=100)  # base64url, no padding: a P-256 point
    auth = models.CharField(max_length=50)  # base64url, no padding: 16 bytes
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"push subscription {self.pk} of user {self.user_id}"


class PushDelivery(models.Model):
    """One push owed: this event to this subscription (the outbox the push worker reads).

    Written after the event commits, when its person had no open socket then; deleted once the
    push service has it, answers that the subscription is gone, or the TTL passes. A row whose
    `sending_since` is set is being POSTed: a worker that died during the POST leaves it so,
    and it is dropped, never sent again (at most once per subscription)."""

    event = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(
        PushSubscription, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    due_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    sending_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event"], name="push_delivery_once_per_subscription"
            )
        ]
        indexes = [models.Index(fields=["due_at"], name="push_delivery_due")]

    def __str__(self) -> str:
        return f"push of event {self.event_id} to subscription {self.subscription_id}"


class WebSocketTicket(models.Model):
    """A single-use credential for opening one socket, so that no long-lived token sits in a
    URL. Only a hash of the ticket is stored: a database dump holds no usable ticket."""

    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)
    # When the access token that asked for the ticket expires: the socket closes then (4002).
    token_expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table keeps the name it was created under in accounts: moving the model here
        # touched no row, and a server of the previous release still finds it during a deploy.
        db_table = "accounts_websocketticket"

    def __str__(self) -> str:
        return f"ticket for user {self.user_id} until {self.expires_at:%H:%M:%S}"
