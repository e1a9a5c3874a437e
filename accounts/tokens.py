"""simplejwt's token classes, refusing a user id claim in any form but the one simplejwt
issues. The ORM would read an Arabic-Indic one, `" 1"`, `1.0` or `true` as user 1 and raise a
500 on `"abc"` or `[1]`; a token signed with our key must still be input like any other."""

from __future__ import annotations

import re

from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings

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
    access_token_class = AccessToken


class RefreshTokenClaims(_StrictUserIdClaim, tokens.Token):
    """A refresh token's signature, expiry, type and claims, but not the blacklist: what
    logout reads, so that a token strict rotation has already replaced still ends its
    session."""

    token_type = "refresh"
    lifetime = api_settings.REFRESH_TOKEN_LIFETIME
