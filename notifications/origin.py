"""The WebSocket handshake's Origin check (a browser page may only open a socket from an
allowed origin; the same list as CORS)."""

from __future__ import annotations

from urllib.parse import urlparse

from channels.security.websocket import OriginValidator
from django.conf import settings


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class AllowedOriginValidator(OriginValidator):
    """Channels' validator with two differences the contract needs: a client that sends no
    Origin (a server, a mobile app) is let in, and so is a page served by this backend."""

    def __init__(self, application) -> None:
        super().__init__(application, allowed_origins=None)

    @property
    def allowed_origins(self) -> list[str]:
        return list(settings.CORS_ALLOWED_ORIGINS)

    @allowed_origins.setter
    def allowed_origins(self, value) -> None:
        """The list is read from settings on every handshake; nothing to store."""

    async def __call__(self, scope, receive, send):
        origin, host = _header(scope, b"origin"), _header(scope, b"host")
        if origin and host and urlparse(origin).netloc == host:
            return await self.application(scope, receive, send)
        return await super().__call__(scope, receive, send)

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        try:
            return super().valid_origin(parsed_origin)
        except ValueError:
            # Channels reads the port with urlparse, which raises on "host:5173.evil".
            return False
