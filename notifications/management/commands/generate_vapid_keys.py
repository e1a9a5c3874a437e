"""Prints a new VAPID key pair (P-256) as the environment variables the server reads."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.management.base import BaseCommand

from notifications.webpush import encode_key


class Command(BaseCommand):
    help = "Print a new VAPID key pair for Web Push, as environment variables."

    def handle(self, *args, **options) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        private = key.private_numbers().private_value.to_bytes(32, "big")
        self.stdout.write(f"VAPID_PUBLIC_KEY={encode_key(public)}")
        self.stdout.write(f"VAPID_PRIVATE_KEY={encode_key(private)}")
        self.stdout.write("VAPID_SUBJECT=mailto:you@example.com  # who push services may contact")
