"""simplejwt's token classes with two more checks. A user id claim is read only in the form
simplejwt writes it: the ORM would read an Arabic-Indic one, `" 1"`, `1.0` or `true` as user 1
and raise a 500 on `"abc"` or `[1]`, and a token signed with our key is still input. A refresh
token works only while its login session (the `sid` claim, accounts.LoginSession) is live."""

from __future__ import annotations

import re

from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings

from accounts.models import LoginSession

# The claim of a refresh token (and of the access tokens made from it) that names its login
# session. simplejwt copies it into every access token and every rotated refresh token.
SESSION_CLAIM = "sid"
_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,18}")


def user_id_from_claim(value: object) -> int | None:
    """A user id claim as simplejwt writes it (a positive int, or its decimal digits), else
    None."""
    if isinstance(value, str) and _CANONICAL_ID.fullmatch(value):
        value = int(value)
    if type(value) is not int:  # bool is an int to isinstance
        return None
    return value if 0 < value < 2**63 else None


class _StrictUserIdClaim:
    def verify(self) -> None:
        super().verify()
        if user_id_from_claim(self.payload.get(api_settings.USER_ID_CLAIM)) is None:
            raise TokenError("Token contained no recognizable user identification")


class AccessToken(_StrictUserIdClaim, tokens.AccessToken):
    pass


class RefreshToken(_StrictUserIdClaim, tokens.RefreshToken):
    """Valid while its login session is live, besides simplejwt's checks (signature, expiry,
    type, blacklist). A token from before login sessions has no `sid`: the blacklist alone
    decides for it."""

    access_token_class = AccessToken

    def verify(self) -> None:
        super().verify()
        live_session_id(self)

    def blacklist(self):
        """Blacklist, as the one claim on the token: with strict rotation, of two refreshes of
        one token at once only the first to blacklist it gets a successor (simplejwt checks
        the blacklist, then adds to it, and let every concurrent refresh through)."""
        blacklisted, created = super().blacklist()
        if not created:
            raise TokenError("Token is blacklisted")
        return blacklisted, created


def live_session_id(token: tokens.Token) -> int | None:
    """The id of the live login session the token names, or None when it names none;
    TokenError when the session has ended or is not the token user's."""
    if SESSION_CLAIM not in token.payload:
        return None
    session_id = token[SESSION_CLAIM]
    owner = None
    if type(session_id) is int and 0 < session_id < 2**63:  # signed by us, but still input
        owner = (
            LoginSession.objects.filter(pk=session_id, ended_at__isnull=True)
            .values_list("user_id", flat=True)
            .first()
        )
    if owner is None or str(owner) != str(token.payload.get(api_settings.USER_ID_CLAIM)):
        raise TokenError("Token is invalid or expired")
    return session_id


class RefreshTokenClaims(_StrictUserIdClaim, tokens.Token):
    """A refresh token's signature, expiry, type and claims, but not the blacklist: what
    logout reads, so that a token strict rotation has already replaced still ends its
    session."""

    token_type = "refresh"
    lifetime = api_settings.REFRESH_TOKEN_LIFETIME
