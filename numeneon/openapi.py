"""The wire shapes of the contract for the OpenAPI schema (drf-spectacular), and the error
answers every view documents. Documentation only: the views build their bodies themselves
(accounts.selectors.user_summary, messages_app.selectors.message_out, ...)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers

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


# --- Users ----------------------------------------------------------------------------------


class UserSummarySerializer(serializers.Serializer):
    """How a user is shown to anyone: never the email."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)


class PrivateUserSerializer(UserSummarySerializer):
    """How a user is shown to that same user: with the email."""

    email = serializers.EmailField()


class ProfileSerializer(serializers.Serializer):
    bio = serializers.CharField(allow_blank=True, help_text="At most 500 characters.")
    avatar = serializers.CharField(allow_null=True, help_text="An https URL, or null.")
    location = serializers.CharField(allow_blank=True, help_text="At most 100 characters.")
    website = serializers.CharField(allow_blank=True, help_text='An http(s) URL, or "".')


class UserWithPictureSerializer(UserSummarySerializer):
    """A user summary with the avatar URL: how search results and suggestions show people."""

    profile_picture = serializers.CharField(
        allow_null=True, help_text="The avatar URL (`profile.avatar`), or null."
    )


class ProfileUserSerializer(UserWithPictureSerializer):
    """How a user's page shows them, to anyone: never the email."""

    date_joined = serializers.DateTimeField()
    profile = ProfileSerializer(help_text="Empty strings, and `avatar` null, when unset.")


class MeSerializer(ProfileUserSerializer):
    """How `me/` shows a user to that same user: with the email."""

    email = serializers.EmailField()


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


# --- Accounts -------------------------------------------------------------------------------


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Access JWT, for `Authorization: Bearer`.")
    refresh = serializers.CharField(help_text="Refresh JWT of the login session.")


class SignupResponseSerializer(TokenPairSerializer):
    message = serializers.CharField()
    user = PrivateUserSerializer()


class LoginResponseSerializer(TokenPairSerializer):
    user = PrivateUserSerializer()


class RefreshRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class WsTicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(help_text="For `/ws/notifications/?ticket=`; single use.")
    expires_in = serializers.IntegerField(help_text="Seconds the ticket lives (at most 30).")


# --- Friends --------------------------------------------------------------------------------


class ConfirmationSerializer(serializers.Serializer):
    message = serializers.CharField()


class SuggestionSerializer(UserWithPictureSerializer):
    mutual_friends_count = serializers.IntegerField(
        help_text="How many of your friends are this person's friends."
    )


class IncomingFriendRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    from_user = UserSummarySerializer()
    created_at = serializers.DateTimeField()


class OutgoingFriendRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    to_user = UserSummarySerializer()
    created_at = serializers.DateTimeField()


class FriendRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    from_user = UserSummarySerializer()
    to_user = UserSummarySerializer()
    created_at = serializers.DateTimeField()


class FriendRequestSentSerializer(serializers.Serializer):
    message = serializers.CharField()
    request = FriendRequestSerializer()
    friend = UserSummarySerializer(
        required=False,
        help_text="Only when that user had already asked you: their request was accepted.",
    )


class FriendAcceptedSerializer(serializers.Serializer):
    message = serializers.CharField()
    friend = UserSummarySerializer()


# --- Messages -------------------------------------------------------------------------------


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sender = UserBriefSerializer()
    receiver = UserBriefSerializer()
    content = serializers.CharField(help_text="1 to 5000 characters, trimmed.")
    is_read = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class ConversationSerializer(serializers.Serializer):
    user = UserSummarySerializer()
    last_message = MessageSerializer()
    unread_count = serializers.IntegerField()


class MarkedReadSerializer(serializers.Serializer):
    marked_read = serializers.IntegerField()


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


# --- Stored events (the REST feed; the socket sends the same without `read_at`) -----------


class ConstantField(serializers.CharField):
    """A string whose only value is `value`: an event's `type`."""

    def __init__(self, value: str, **kwargs) -> None:
        self.value = value
        super().__init__(**kwargs)


class ConstantFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ConstantField

    def map_serializer_field(self, auto_schema, direction) -> dict:
        return {"type": "string", "enum": [self.target.value]}


class FriendRequestEventDataSerializer(serializers.Serializer):
    request_id = serializers.IntegerField()
    from_user = UserSummarySerializer()


class FriendAcceptedEventDataSerializer(serializers.Serializer):
    request_id = serializers.IntegerField()
    from_user = UserSummarySerializer(help_text="Who accepted.")
    friend = UserSummarySerializer(help_text="Who accepted (the same user).")
    message = serializers.CharField(help_text='Human text: "bob accepted your friend request."')


class FriendRequestDeclinedEventDataSerializer(serializers.Serializer):
    request_id = serializers.IntegerField()
    by = UserSummarySerializer(help_text="Who declined (the addressee).")


class FriendRequestCancelledEventDataSerializer(serializers.Serializer):
    request_id = serializers.IntegerField()
    from_user = UserSummarySerializer(help_text="Who had asked, and withdrew the request.")


class FriendRemovedEventDataSerializer(serializers.Serializer):
    user = UserSummarySerializer(help_text="Who ended the friendship.")


class NewMessageEventMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    content = serializers.CharField()
    created_at = serializers.DateTimeField()


class NewMessageEventDataSerializer(MessageSerializer):
    """The message's own fields, flat, beside `from_user` and `message`."""

    from_user = UserBriefSerializer()
    message = NewMessageEventMessageSerializer()


class MessagesReadEventDataSerializer(serializers.Serializer):
    reader = UserSummarySerializer()
    up_to_id = serializers.IntegerField()
    count = serializers.IntegerField()


class _EventSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Grows strictly for each user.")
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


class FriendRequestEventSerializer(_EventSerializer):
    type = ConstantField("friend_request")
    data = FriendRequestEventDataSerializer()


class FriendAcceptedEventSerializer(_EventSerializer):
    type = ConstantField("friend_accepted")
    data = FriendAcceptedEventDataSerializer()


class NewMessageEventSerializer(_EventSerializer):
    type = ConstantField("new_message")
    data = NewMessageEventDataSerializer()


class MessagesReadEventSerializer(_EventSerializer):
    type = ConstantField("messages_read")
    data = MessagesReadEventDataSerializer()


class FriendRequestDeclinedEventSerializer(_EventSerializer):
    type = ConstantField("friend_request_declined")
    data = FriendRequestDeclinedEventDataSerializer()


class FriendRequestCancelledEventSerializer(_EventSerializer):
    type = ConstantField("friend_request_cancelled")
    data = FriendRequestCancelledEventDataSerializer()


class FriendRemovedEventSerializer(_EventSerializer):
    type = ConstantField("friend_removed")
    data = FriendRemovedEventDataSerializer()


class MessageSentEventSerializer(_EventSerializer):
    """To the sender: the `data` of the receiver's `new_message`. Stored already read."""

    type = ConstantField("message_sent")
    data = NewMessageEventDataSerializer()


EVENT_LIST = PolymorphicProxySerializer(
    component_name="Event",
    serializers={
        "friend_request": FriendRequestEventSerializer,
        "friend_accepted": FriendAcceptedEventSerializer,
        "new_message": NewMessageEventSerializer,
        "messages_read": MessagesReadEventSerializer,
        "friend_request_declined": FriendRequestDeclinedEventSerializer,
        "friend_request_cancelled": FriendRequestCancelledEventSerializer,
        "friend_removed": FriendRemovedEventSerializer,
        "message_sent": MessageSentEventSerializer,
    },
    resource_type_field_name="type",
    many=True,
)
