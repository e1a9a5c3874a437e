"""The push worker's loop: claim one owed push (notifications.models.PushDelivery), send it,
record the answer.

At most once per subscription: a delivery is claimed (`sending_since` set) in a transaction of
its own that commits before the POST, and only a claim-free row is ever claimed. When the
worker dies between that commit and recording the answer, the row stays claimed and is
dropped once it is older than any POST can take (stale_claim_seconds()): it may have reached the
push service, so it is never sent again. The push lost that way is at most the one each worker
had on the wire when it died; its event stays in the feed and reaches the next socket.
Several workers may run on PostgreSQL (SKIP LOCKED); on SQLite, one.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from notifications import pushsend
from notifications.models import PushDelivery, PushSubscription
from notifications.selectors import unread_count

logger = logging.getLogger(__name__)


def stale_claim_seconds() -> float:
    """Longer than any POST can take (connect and read, each bounded by the timeout)."""
    return 2 * settings.PUSH_SEND_TIMEOUT_SECONDS + 5


MAX_RETRY_SECONDS = 3600.0
DONE = {200, 201, 202}  # 201 is what RFC 8030 says; some services answer 200 or 202
GONE = {404, 410}


def claim_next(now, due_by) -> PushDelivery | None:
    """Claim the next push due by `due_by`, with its event, subscription and person, or None."""
    with transaction.atomic():
        delivery = (
            PushDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "subscription__user")
            .filter(sending_since__isnull=True, due_at__lte=due_by)
            .order_by("due_at")
            .first()
        )
        if delivery is None:
            return None
        delivery.sending_since = now
        delivery.attempts += 1
        PushDelivery.objects.filter(pk=delivery.pk).update(
            sending_since=now, attempts=delivery.attempts
        )
    return delivery


def deliver(delivery: PushDelivery, now) -> str:
    """Send one claimed push and record what came of it; answers what that was."""
    subscription, event = delivery.subscription, delivery.event
    if subscription.user_id != event.recipient_id or not subscription.user.is_active:
        # Moved to another person since (a browser subscribed again), or deactivated.
        delivery.delete()
        return "dropped"
    remaining = int((delivery.expires_at - now).total_seconds())
    if remaining <= 0:
        delivery.delete()
        return "expired"
    body = pushsend.payload(event, unread_count(user_id=event.recipient_id))
    encrypted = pushsend.encrypt(
        body, endpoint=subscription.endpoint, p256dh=subscription.p256dh, auth=subscription.auth
    )
    headers = {
        "Authorization": pushsend.vapid_authorization(subscription.endpoint, time.time()),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(remaining),
        "Urgency": pushsend.urgency(event.type),
        "Topic": pushsend.topic(body["tag"]),
    }
    try:
        answer = pushsend.post(subscription.endpoint, encrypted, headers)
    except pushsend.RefusedAddress as error:
        logger.warning("Push to subscription %s refused: %s", subscription.pk, error)
        delivery.delete()
        return "refused"
    except pushsend.NotConnected as error:
        return _retry(delivery, now, None, f"no connection ({error})")
    except pushsend.AnswerLost as error:
        # It may have arrived: at most once, so not again.
        logger.warning("Push %s sent but not answered (%s); not resent", delivery.pk, error)
        delivery.delete()
        return "unanswered"
    if answer.status in DONE:
        delivery.delete()
        return "sent"
    if answer.status in GONE:
        # The browser unsubscribed or the push service forgot it: so do we.
        PushSubscription.objects.filter(pk=subscription.pk).delete()
        return "gone"
    if answer.status == 429 or answer.status >= 500:
        return _retry(delivery, now, answer.retry_after, f"answer {answer.status}")
    logger.warning(
        "Push to subscription %s answered %s; not retried", subscription.pk, answer.status
    )
    delivery.delete()
    return "failed"


def _retry(delivery: PushDelivery, now, retry_after: float | None, why: str) -> str:
    backoff = min(
        settings.PUSH_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1), MAX_RETRY_SECONDS
    )
    delay = max(backoff, retry_after or 0.0)  # never sooner than the push service asked
    due = now + timedelta(seconds=delay)
    if due >= delivery.expires_at:
        logger.warning("Push %s given up after its TTL: %s", delivery.pk, why)
        delivery.delete()
        return "expired"
    PushDelivery.objects.filter(pk=delivery.pk).update(sending_since=None, due_at=due)
    return "retry"


def drop_stale(now) -> int:
    """Drop claims whose worker died mid-send (they may have been sent: never twice) and
    pushes past their TTL."""
    stale = now - timedelta(seconds=stale_claim_seconds())
    lost, _ = PushDelivery.objects.filter(sending_since__lt=stale).delete()
    if lost:
        logger.warning("Dropped %s pushes claimed by a worker that stopped mid-send", lost)
    expired, _ = PushDelivery.objects.filter(
        sending_since__isnull=True, expires_at__lte=now
    ).delete()
    return lost + expired


def deliver_due(limit: int = 100) -> int:
    """Send up to `limit` pushes due when called; answers how many were handled. A push retried
    in this round waits for the next one, however short its backoff."""
    due_by = timezone.now()
    handled = 0
    while handled < limit:
        now = timezone.now()
        delivery = claim_next(now, due_by)
        if delivery is None:
            break
        deliver(delivery, now)
        handled += 1
    return handled


def run(stop: threading.Event) -> None:
    while not stop.is_set():
        close_old_connections()
        try:
            drop_stale(timezone.now())
            handled = deliver_due()
        except Exception:
            logger.exception("The push worker's round failed; trying again")
            handled = 0
        if not handled:
            stop.wait(settings.PUSH_POLL_SECONDS)
