"""What the OpenAPI schema (drf-spectacular) of every app shares: the error body and the error
answers every operation documents, the shapes more than one app answers with, and the schema
hooks. Each app's own response serializers sit beside its views, in its api.py."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.fields import empty

# --- Errors ---------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Human text: what DRF clients read.")
    error = serializers.CharField(help_text="The same text: what the NUMENEON web app reads.")
    code = serializers.CharField(help_text="Machine code, e.g. `not_friends`.")


class BadRequestErrorSerializer(ErrorSerializer):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text='Only with code `validation_error`: {"field": ["message", ...]}.',
    )


_NUL = "`bad_request`: a NUL character in the path or query string"
_UNAUTHENTICATED = (
    "`not_authenticated` (no credential), `token_not_valid` (malformed, forged or expired "
    "access token), `user_not_found`, `user_inactive`"
)


def error_responses(
    codes: dict[int, str] | None = None,
    *,
    authenticated: bool = True,
    body: bool = False,
    throttled: bool = False,
) -> dict[int, OpenApiResponse]:
    """The error answers of one operation, each with the contract's error body.

    `codes` maps a status to the codes it answers with, as text for its description. Added
    here: 400 `bad_request` (every endpoint refuses NUL), 400 `parse_error` and 415 (`body`),
    401 (`authenticated`), 429 `throttled` (`throttled`).
    """
    described = {status: [text] for status, text in (codes or {}).items()}
    described.setdefault(400, []).append(_NUL)
    if body:
        described[400].append("`parse_error`: the body is not JSON, or not valid UTF-8")
        described[415] = ["`unsupported_media_type`: the body is not `application/json`"]
    if authenticated:
        described.setdefault(401, []).insert(0, _UNAUTHENTICATED)
    if throttled:
        described[429] = ["`throttled`: too many requests; see `Retry-After`"]
    return {
        status: OpenApiResponse(
            BadRequestErrorSerializer if status == 400 else ErrorSerializer,
            description="; ".join(texts) + ".",
        )
        for status, texts in sorted(described.items())
    }


def validation(text: str = "") -> str:
    """The description of a 400 `validation_error`, with what the operation checks."""
    return "`validation_error` (with `errors`)" + (f": {text}" if text else "")


def operation(
    *, responses: dict, request=empty, auth: list | None = None, throttled: bool = False, **kwargs
) -> Callable:
    """drf-spectacular's extend_schema for one operation, its error answers included.

    `responses` maps the success status to its serializer, and each error status of the
    operation's own to the codes it answers with, as text. The errors every operation shares
    follow from the other arguments (see error_responses): a body when `request` is given, a
    bearer token unless `auth=[]`, 429 when `throttled` (the view has a `throttle_scope`:
    tests/test_openapi.py checks that the two agree).
    """
    success = {status: shape for status, shape in responses.items() if not isinstance(shape, str)}
    codes = {status: text for status, text in responses.items() if isinstance(text, str)}
    errors = error_responses(
        codes,
        authenticated=auth != [],
        body=request is not empty and request is not None,
        throttled=throttled,
    )
    return extend_schema(request=request, auth=auth, responses={**success, **errors}, **kwargs)


# --- Shapes more than one app answers with --------------------------------------------------
# A shape one app builds lives in that app's api.py, and the apps above it import it from there
# (accounts.api's user summary). The message is here, not in messages_app, because the
# `new_message` event of notifications carries it and notifications may not import messages_app.


class ConfirmationSerializer(serializers.Serializer):
    message = serializers.CharField()


class MarkedReadSerializer(serializers.Serializer):
    marked_read = serializers.IntegerField()


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sender = UserBriefSerializer()
    receiver = UserBriefSerializer()
    content = serializers.CharField(help_text="1 to 5000 characters, trimmed.")
    is_read = serializers.BooleanField()
    created_at = serializers.DateTimeField()


# --- Schema hooks ---------------------------------------------------------------------------


class ConstantField(serializers.CharField):
    """A string whose only value is `value`: an event's `type`."""

    def __init__(self, value: str, **kwargs) -> None:
        self.value = value
        super().__init__(**kwargs)


class ConstantFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ConstantField

    def map_serializer_field(self, auto_schema, direction) -> dict:
        return {"type": "string", "enum": [self.target.value]}
