"""Sends the Web Pushes owed to people with no NUMENEON tab open, until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from notifications import pushworker


class Command(BaseCommand):
    help = "Send owed Web Pushes (notifications.models.PushDelivery) until stopped."

    def handle(self, *args, **options) -> None:
        if not settings.WEB_PUSH_ENABLED:
            self.stdout.write(
                "Web Push is off (no VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY): exiting."
            )
            return
        stop = threading.Event()
        # Finish the push on the wire, then stop: a push is never cut mid-send by a deploy.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write("Push worker started.")
        self.stdout.flush()
        pushworker.run(stop)
        self.stdout.write("Push worker stopped.")
