"""One Web Push on the wire: the payload the web app's service worker shows, encrypted for the
subscription (RFC 8291, aes128gcm), signed with our VAPID key (RFC 8292), POSTed to the push
service (RFC 8030) over a connection made only to an address we checked."""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import cache
from urllib.parse import urlsplit

import certifi
from django.conf import settings
from py_vapid import Vapid02
from pywebpush import WebPusher

from notifications.models import EventType, Notification
from notifications.webpush import is_listed

# A VAPID token may live 24 h (RFC 8292); 12 h leaves room for clocks that disagree.
VAPID_TOKEN_SECONDS = 12 * 3600
MESSAGE_PREVIEW_CHARS = 120


class RefusedAddress(Exception):
    """The endpoint's host resolves to an address that is not public (and is not listed)."""


class NotConnected(Exception):
    """No connection to the push service: nothing was sent, so it may be tried again."""


class AnswerLost(Exception):
    """The push went out but no answer came back: it may have arrived, so it is not resent."""


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: float | None  # seconds, when the push service said


def payload(event: Notification, unread_count: int) -> dict:
    """What the service worker reads: title, body, tag and url, unreadCount for the badge."""
    data = event.data
    sender = data.get("from_user") or {}
    username = sender.get("username", "")
    if event.type == EventType.NEW_MESSAGE:
        content = (data.get("message") or {}).get("content", "")
        if len(content) > MESSAGE_PREVIEW_CHARS:
            content = content[: MESSAGE_PREVIEW_CHARS - 1] + "…"
        title, body = f"New message from {username}", content
        tag, url = f"message-{sender.get('id')}", f"/profile/{username}"
    elif event.type == EventType.FRIEND_ACCEPTED:
        title, body = "Friend request accepted", f"{username} accepted your friend request."
        tag, url = f"friend-accepted-{sender.get('id')}", "/friends"
    else:
        title, body = "New friend request", f"{username} sent you a friend request."
        tag, url = f"friend-request-{sender.get('id')}", "/friends"
    return {
        "title": title,
        "body": body,
        "tag": tag,
        "url": url,
        "unreadCount": unread_count,
        "type": event.type,
        "id": event.id,
    }


def topic(tag: str) -> str:
    """RFC 8030 Topic (at most 32 URL-safe base64 characters): a newer push with the same
    topic replaces one the push service still holds, so a person offline for a while gets one
    notification per conversation, not one per message."""
    return base64.urlsafe_b64encode(hashlib.sha256(tag.encode()).digest()[:16]).decode()[:22]


def urgency(event_type: str) -> str:
    return "high" if event_type == EventType.NEW_MESSAGE else "normal"


@cache
def _vapid(private_key: str) -> Vapid02:
    return Vapid02.from_raw(private_key.encode())


def vapid_authorization(endpoint: str, now: float) -> str:
    parts = urlsplit(endpoint)
    claims = {
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int(now) + VAPID_TOKEN_SECONDS,
        "sub": settings.VAPID_SUBJECT,
    }
    return _vapid(settings.VAPID_PRIVATE_KEY).sign(claims)["Authorization"]


def encrypt(body: dict, *, endpoint: str, p256dh: str, auth: str) -> bytes:
    info = {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}
    plain = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return WebPusher(info).encode(plain, content_encoding="aes128gcm")["body"]


def public_address(host: str, port: int) -> str:
    """The address to connect to for `host`: resolved now, and refused unless every address
    it resolves to is public (or the host is listed in PUSH_ALLOWED_HOSTS). Checked at send
    time because a name checked at subscribe time may resolve anywhere since."""
    host = host.rstrip(".").lower()
    listed = is_listed(host, port)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise NotConnected(f"{host} does not resolve: {error}") from error
    addresses = [info[4][0] for info in infos]
    if not listed:
        for address in addresses:
            if not ipaddress.ip_address(address.split("%", 1)[0]).is_global:
                raise RefusedAddress(f"{host} resolves to {address}, not a public address")
    return addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the name in the URL (SNI, certificate check, Host header) over a socket to the
    address public_address() approved, so that DNS cannot answer differently in between."""

    def __init__(self, host: str, port: int, address: str, **kwargs) -> None:
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@cache
def _tls_context(ca_file: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file or certifi.where())


def post(endpoint: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST one push. Raises RefusedAddress for a non-public address, NotConnected when no
    connection could be made, AnswerLost when the connection failed after the push was
    sent (or while sending it)."""
    parts = urlsplit(endpoint)
    port = parts.port or 443
    address = public_address(parts.hostname or "", port)
    connection = _PinnedHTTPSConnection(
        parts.hostname,
        port,
        address,
        timeout=settings.PUSH_SEND_TIMEOUT_SECONDS,
        context=_tls_context(settings.PUSH_TLS_CA_FILE),
    )
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    try:
        try:
            connection.connect()
        except OSError as error:  # refused, unreachable, timed out, TLS handshake
            raise NotConnected(str(error)) from error
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            raise AnswerLost(str(error)) from error
    finally:
        connection.close()
    return Answer(response.status, _retry_after(response.getheader("Retry-After")))


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds or as an HTTP date (RFC 9110)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None
