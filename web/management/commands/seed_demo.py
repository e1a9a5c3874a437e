"""Demo data: alice, bob and charlie, a friendship, pending requests and a conversation.

Idempotent: a second run adds nothing and changes no password. Passwords are random, printed
once, when the users are created.
"""

from __future__ import annotations

import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User
from friends import selectors as friend_selectors
from friends import services as friend_services
from messages_app import services as message_services
from messages_app.models import Message

PEOPLE = [
    ("alice", "Alice", "Liddell"),
    ("bob", "Bob", "Builder"),
    ("charlie", "Charlie", "Brown"),
]
CONVERSATION = [
    ("alice", "Hi Bob! Welcome to NUMENEON."),
    ("bob", "Thanks Alice, this updates live, no reload."),
    ("alice", "Try sending me a message from another tab."),
]


class Command(BaseCommand):
    help = "Create the demo users alice, bob and charlie with some history (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        users, created = {}, []
        for username, first_name, last_name in PEOPLE:
            user = User.objects.filter(username__iexact=username).first()
            if user is None:
                password = secrets.token_urlsafe(12)
                user = User.objects.create_user(
                    username=username,
                    email=f"{username}@demo.numeneon.invalid",
                    password=password,
                    first_name=first_name,
                    last_name=last_name,
                )
                created.append((username, password))
            users[username] = user
        alice, bob, charlie = users["alice"], users["bob"], users["charlie"]

        # alice and bob are friends; charlie has asked alice; bob has asked charlie.
        if not friend_selectors.are_friends(user_id=alice.pk, other_id=bob.pk):
            outcome = friend_services.friend_request_send(actor=alice, to_user_id=bob.pk)
            if outcome.friend is None:
                friend_services.friend_request_accept(actor=bob, request_id=outcome.request.pk)
        for sender, receiver in ((charlie, alice), (bob, charlie)):
            if not (
                friend_selectors.are_friends(user_id=sender.pk, other_id=receiver.pk)
                or friend_selectors.pending_request(from_id=sender.pk, to_id=receiver.pk)
                or friend_selectors.pending_request(from_id=receiver.pk, to_id=sender.pk)
            ):
                friend_services.friend_request_send(actor=sender, to_user_id=receiver.pk)

        between = Message.objects.filter(sender__in=[alice, bob], receiver__in=[alice, bob])
        if not between.exists():
            for username, content in CONVERSATION:
                sender = users[username]
                receiver = bob if sender == alice else alice
                message_services.message_send(
                    actor=sender, receiver_id=receiver.pk, content=content
                )

        if created:
            self.stdout.write("Demo users created. Their passwords are shown this once:")
            for username, password in created:
                self.stdout.write(f"  {username:8} {password}")
        else:
            self.stdout.write("Demo users already exist; nothing changed.")
