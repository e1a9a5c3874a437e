"""The stored-event feed over REST (what a reloaded page or a `recovered: false` client reads),
Web Push subscriptions (for people with no NUMENEON tab open), and the ticket a socket opens
with."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import UserSummarySerializer
from notifications import selectors, services, webpush
from notifications.models import EventType
from notifications.services import event_frame
from numeneon import openapi
from numeneon.errors import ApplicationError
from numeneon.fields import IdField, LimitField, StrictCharField
from numeneon.inputs import validated_body, validated_query

FEED_DEFAULT_LIMIT = 50
FEED_MAX_LIMIT = 200

# --- Stored events (the REST feed; the socket sends the same without `read_at`) -----------
# The `data` of each type, as notifications.events builds it.


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


class NewMessageEventDataSerializer(openapi.MessageSerializer):
    """The message's own fields, flat, beside `from_user` and `message`."""

    from_user = openapi.UserBriefSerializer()
    message = NewMessageEventMessageSerializer()


class MessagesReadEventDataSerializer(serializers.Serializer):
    reader = UserSummarySerializer()
    up_to_id = serializers.IntegerField()
    count = serializers.IntegerField()


EVENT_DATA = {
    EventType.FRIEND_REQUEST: FriendRequestEventDataSerializer,
    EventType.FRIEND_ACCEPTED: FriendAcceptedEventDataSerializer,
    EventType.NEW_MESSAGE: NewMessageEventDataSerializer,
    EventType.MESSAGES_READ: MessagesReadEventDataSerializer,
    EventType.FRIEND_REQUEST_DECLINED: FriendRequestDeclinedEventDataSerializer,
    EventType.FRIEND_REQUEST_CANCELLED: FriendRequestCancelledEventDataSerializer,
    EventType.FRIEND_REMOVED: FriendRemovedEventDataSerializer,
    EventType.MESSAGE_SENT: NewMessageEventDataSerializer,
}
EVENT_NOTES = {
    EventType.MESSAGE_SENT: "To the sender: the `data` of the receiver's `new_message`. "
    "Stored already read.",
}


class _EventSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Grows strictly for each user.")
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


def _event_serializer(event_type: EventType) -> type[serializers.Serializer]:
    """The stored event of one type, named as the schema's component is (FriendRequestEvent)."""
    name = event_type.value.title().replace("_", "") + "EventSerializer"
    fields = {"type": openapi.ConstantField(event_type.value), "data": EVENT_DATA[event_type]()}
    return type(name, (_EventSerializer,), {"__doc__": EVENT_NOTES.get(event_type), **fields})


EVENT_LIST = PolymorphicProxySerializer(
    component_name="Event",
    serializers={str(event_type): _event_serializer(event_type) for event_type in EVENT_DATA},
    resource_type_field_name="type",
    many=True,
)

# --- Views ----------------------------------------------------------------------------------


class FeedApi(APIView):
    class QuerySerializer(serializers.Serializer):
        after = IdField(required=False, min_value=0)
        limit = LimitField(maximum=FEED_MAX_LIMIT, default=FEED_DEFAULT_LIMIT)

    @openapi.operation(
        parameters=[QuerySerializer],
        description="Your stored events with an id above `after`, oldest first, at most "
        "`limit` (default 50); without `after`, the newest `limit`, oldest first.",
        responses={
            200: EVENT_LIST,
            400: openapi.validation("`after` or `limit` not a valid integer"),
        },
    )
    def get(self, request):
        query = validated_query(self.QuerySerializer, request)
        events = selectors.feed(
            user_id=request.user.pk, after=query.get("after"), limit=query["limit"]
        )
        return Response([{**event_frame(e), "read_at": e.read_at} for e in events])


class UnreadCountApi(APIView):
    @openapi.operation(
        description="How many of your stored events are unread.",
        responses={200: openapi.UnreadCountSerializer},
    )
    def get(self, request):
        return Response({"unread": selectors.unread_count(user_id=request.user.pk)})


class MarkReadApi(APIView):
    @extend_schema_serializer(component_name="MarkEventsReadRequest")
    class InputSerializer(serializers.Serializer):
        ids = serializers.ListField(child=IdField(), required=False, max_length=1000)
        up_to = IdField(required=False)

        def validate(self, attrs: dict) -> dict:
            if ("ids" in attrs) == ("up_to" in attrs):
                raise serializers.ValidationError({"ids": ['Give either "ids" or "up_to".']})
            return attrs

    @openapi.operation(
        request=InputSerializer,
        description="Marks your events read: those in `ids`, or all up to `up_to`; give one of "
        "the two.",
        responses={
            200: openapi.MarkedReadSerializer,
            400: openapi.validation('both or neither of "ids" and "up_to", bad ids'),
        },
    )
    def post(self, request):
        data = validated_body(self.InputSerializer, request)
        count = services.notifications_mark_read(actor_id=request.user.pk, **data)
        return Response({"marked_read": count})


class VapidPublicKeyApi(APIView):
    class OutputSerializer(serializers.Serializer):
        vapid_public_key = serializers.CharField(
            help_text="base64url, an uncompressed P-256 point: the browser's "
            "`applicationServerKey`."
        )

    @openapi.operation(
        description="The key the browser subscribes with.",
        responses={
            200: OutputSerializer,
            503: "`push_not_configured`: the server has no VAPID keys",
        },
    )
    def get(self, request):
        if not settings.WEB_PUSH_ENABLED:
            raise ApplicationError(
                "push_not_configured", "Push notifications are not set up here.", status_code=503
            )
        return Response({"vapid_public_key": settings.VAPID_PUBLIC_KEY})


@extend_schema_serializer(component_name="PushSubscriptionKeys")
class PushKeysSerializer(serializers.Serializer):
    """The browser's keys, stored base64url whichever of the two encodings they came in."""

    p256dh = StrictCharField(max_length=200)
    auth = StrictCharField(max_length=100)

    def validate_p256dh(self, value: str) -> str:
        raw = webpush.decode_key(value)
        if raw is None or not webpush.is_p256_point(raw):
            raise serializers.ValidationError("Not a P-256 public key (base64 or base64url).")
        return webpush.encode_key(raw)

    def validate_auth(self, value: str) -> str:
        raw = webpush.decode_key(value)
        if raw is None or len(raw) != webpush.AUTH_SECRET_BYTES:
            raise serializers.ValidationError("Not a 16-byte secret (base64 or base64url).")
        return webpush.encode_key(raw)


class SubscribeApi(APIView):
    @extend_schema_serializer(component_name="PushSubscriptionRequest")
    class InputSerializer(serializers.Serializer):
        endpoint = StrictCharField(max_length=2048)
        keys = PushKeysSerializer()

        def validate_endpoint(self, value: str) -> str:
            error = webpush.endpoint_error(value)
            if error:
                raise serializers.ValidationError(error)
            return value

    @openapi.operation(
        request=InputSerializer,
        description="Stores this browser's push subscription; the same endpoint again (from "
        "anyone) replaces it.",
        responses={
            201: openapi.ConfirmationSerializer,
            400: openapi.validation(
                "an endpoint that is not https or not a public host, keys that are "
                "not a P-256 point and a 16-byte secret"
            ),
        },
    )
    def post(self, request):
        data = validated_body(self.InputSerializer, request)
        services.push_subscription_save(
            user=request.user, endpoint=data["endpoint"], **data["keys"]
        )
        return Response({"message": "Subscribed to push notifications."}, status=201)


class UnsubscribeApi(APIView):
    @extend_schema_serializer(component_name="PushUnsubscribeRequest")
    class InputSerializer(serializers.Serializer):
        endpoint = StrictCharField(max_length=2048)

    @openapi.operation(
        request=InputSerializer,
        description="Forgets your push subscription at this endpoint.",
        responses={
            200: openapi.ConfirmationSerializer,
            404: "`subscription_not_found`: none of yours at that endpoint",
        },
    )
    def post(self, request):
        data = validated_body(self.InputSerializer, request)
        services.push_subscription_delete(user=request.user, **data)
        return Response({"message": "Unsubscribed from push notifications."})


# Served at /api/auth/ws-ticket/ (numeneon/urls.py), where the contract has it.
class WsTicketApi(APIView):
    """A single-use ticket for `/ws/notifications/?ticket=`: no long-lived secret in a URL."""

    throttle_scope = "ws_ticket"

    @extend_schema_serializer(component_name="WsTicket")
    class OutputSerializer(serializers.Serializer):
        ticket = serializers.CharField(help_text="For `/ws/notifications/?ticket=`; single use.")
        expires_in = serializers.IntegerField(help_text="Seconds the ticket lives (at most 30).")

    @openapi.operation(request=None, throttled=True, responses={201: OutputSerializer})
    def post(self, request):
        token_expires_at = datetime.fromtimestamp(request.auth["exp"], tz=UTC)
        ticket, expires_in = services.ws_ticket_issue(
            user=request.user, token_expires_at=token_expires_at
        )
        return Response(
            {"ticket": ticket, "expires_in": expires_in}, status=status.HTTP_201_CREATED
        )
