"""WebSocket authentication: an ASGI middleware that puts the user (or why not) in the scope."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.middleware import BaseMiddleware
from rest_framework_simplejwt.exceptions import TokenError

from accounts.tokens import AccessToken, user_id_from_claim
from notifications.dbcall import database_call
from notifications.services import ws_ticket_redeem
from numeneon.limits import CLOSE_INVALID_CREDENTIAL

_MAX_CREDENTIAL_LENGTH = 4096


def query_params(scope: dict) -> dict[str, str]:
    """The query string as single values (the last wins), decoded leniently."""
    raw = scope.get("query_string", b"").decode("latin-1")
    return {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}


def authenticate_token(raw: str | None) -> tuple[int | None, int | None, int | None]:
    """(user id, expiry as a unix time, None) or (None, None, close code).

    The signature and claims only: whether the user exists and is active is read by the
    consumer in the one database call that opens the socket (services.socket_open)."""
    if not raw or len(raw) > _MAX_CREDENTIAL_LENGTH:
        return None, None, CLOSE_INVALID_CREDENTIAL
    try:
        token = AccessToken(raw)  # checks the user id claim's form too
    except TokenError:
        return None, None, CLOSE_INVALID_CREDENTIAL
    return user_id_from_claim(token["user_id"]), int(token["exp"]), None


def _redeem_ticket_sync(ticket: str):
    return ws_ticket_redeem(ticket=ticket)


async def authenticate_ticket(raw: str) -> tuple[int | None, int | None, int | None]:
    """(user id, token expiry as a unix time, None) or (None, None, close code)."""
    redeemed = await database_call(_redeem_ticket_sync)(raw)
    if redeemed is None:
        return None, None, CLOSE_INVALID_CREDENTIAL
    user, token_expires_at = redeemed
    return user.pk, int(token_expires_at.timestamp()), None


async def _authenticate(scope: dict) -> tuple[int | None, int | None, int | None]:
    params = query_params(scope)
    if "ticket" in params:
        return await authenticate_ticket(params["ticket"])
    return authenticate_token(params.get("token"))


class JWTAuthMiddleware(BaseMiddleware):
    """Reads `?ticket=` (single use) or `?token=` (an access JWT) and leaves in the scope the
    user id it names, or the close code; the consumer accepts, then closes with that code."""

    async def __call__(self, scope, receive, send):
        # This frame stays suspended while the socket is open: it holds one copy of the scope
        # (not BaseMiddleware's second, nor BaseMiddleware's frame) and not the parsed query.
        user_id, expires_at, close_code = await _authenticate(scope)
        scope = dict(scope)
        scope["user_id"] = user_id
        scope["token_expires_at"] = expires_at
        scope["auth_close_code"] = close_code
        return await self.inner(scope, receive, send)
