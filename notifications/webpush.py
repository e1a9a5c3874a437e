"""What makes a Web Push subscription acceptable: an endpoint our server may POST to (https, a
public host: the endpoint is a URL chosen by the client, so it is an SSRF door), and keys that
decode to what RFC 8291 needs."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

AUTH_SECRET_BYTES = 16


def endpoint_error(url: str) -> str | None:
    """Why `url` may not be a push endpoint, or None. Hosts in PUSH_ALLOWED_HOSTS (tests' local
    stand-ins) are let through."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError:
        return "Enter a valid https URL."
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https" or not host or parts.username or parts.password:
        return "Enter a valid https URL."
    if is_listed(host, port or 443):
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return "A push endpoint must be a public host."
    address = _ip_literal(host)
    if address is not None and not address.is_global:
        return "A push endpoint must be a public host."
    return None


def is_listed(host: str, port: int) -> bool:
    """Whether PUSH_ALLOWED_HOSTS lets `host` (or `host:port`) through although it is not
    public: checked when subscribing and again when sending."""
    host = host.rstrip(".").lower()
    return host in settings.PUSH_ALLOWED_HOSTS or f"{host}:{port}" in settings.PUSH_ALLOWED_HOSTS


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def decode_key(text: str) -> bytes | None:
    """A key given in base64 or base64url, padded or not (browsers' btoa gives the first,
    PushSubscription.toJSON the second); None when it is neither."""
    text = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def is_p256_point(raw: bytes) -> bool:
    """An uncompressed point on P-256, as the browser's p256dh key is."""
    if len(raw) != 65 or raw[0] != 4:
        return False
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return False
    return True


def encode_key(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
