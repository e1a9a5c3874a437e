"""Retention: delete old stored events. Safe to run while the server is up."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from notifications.services import notifications_prune


class Command(BaseCommand):
    help = (
        "Delete read events older than --read-days (default 30) and unread events older "
        "than --unread-days (default 90), in batches."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--read-days", type=int, default=30)
        parser.add_argument("--unread-days", type=int, default=90)
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, read_days: int, unread_days: int, batch_size: int, **options):
        if read_days < 0 or unread_days < 0 or batch_size < 1:
            raise CommandError("Days must be 0 or more and --batch-size at least 1.")
        now = timezone.now()
        deleted = notifications_prune(
            read_before=now - timedelta(days=read_days),
            unread_before=now - timedelta(days=unread_days),
            batch_size=batch_size,
        )
        self.stdout.write(f"Deleted {deleted} event(s).")
