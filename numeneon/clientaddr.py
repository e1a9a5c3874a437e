"""The client's address as the trusted proxy saw it, for everything that counts per client.

A proxy such as Render's appends the address of its peer to `X-Forwarded-For`; whatever
stands before that entry the client wrote itself. Daphne's `--proxy-headers` takes the first
entry (daphne/utils.py, `parse_x_forwarded_for`), so rotating it bypassed per-client
throttles. This ASGI middleware sets `scope["client"]` once, for HTTP (Django's REMOTE_ADDR,
which DRF's throttles read) and WebSocket alike."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(specs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(spec.strip(), strict=False) for spec in specs if spec)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(
    peer: str, forwarded_for: list[str], *, proxies: int, trusted: tuple[str, ...]
) -> str:
    """The address `proxies` trusted proxies in front of us saw as the client: the entry the
    farthest of them appended to X-Forwarded-For. A peer that is not in a `trusted` network
    is the client itself (a direct connection: its header is ignored), and so is the peer
    when the header has fewer entries than trusted proxies or the entry is not an address."""
    peer_address = _address(peer)
    if proxies <= 0 or peer_address is None:
        return peer
    if not any(peer_address in network for network in _networks(trusted)):
        return peer
    entries = [entry for value in forwarded_for for entry in value.split(",")]
    if len(entries) < proxies:
        return peer
    chosen = _address(entries[-proxies])
    return str(chosen) if chosen is not None else peer


def client_network(address: str) -> str:
    """What per-client limits count: an IPv4 address, or the /64 of an IPv6 one, since a
    single IPv6 client is handed a whole /64 and could rotate through it."""
    parsed = _address(address)
    if parsed is None or parsed.version == 4:
        return address
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


class ClientAddressMiddleware:
    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client:
            forwarded_for = [
                value.decode("latin-1")
                for name, value in scope.get("headers", [])
                if name == b"x-forwarded-for"
            ]
            address = client_address(
                client[0],
                forwarded_for,
                proxies=settings.TRUSTED_PROXY_COUNT,
                trusted=tuple(settings.TRUSTED_PROXY_NETWORKS),
            )
            if address != client[0]:
                scope = {**scope, "client": (address, 0)}
        return await self.application(scope, receive, send)
