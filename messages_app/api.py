"""Messages endpoints: one thin view per operation, the shapes it answers with beside it (the
message itself is in numeneon.openapi: the `new_message` event carries it too)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from accounts.api import UserSummarySerializer
from accounts.models import User
from messages_app import selectors, services
from messages_app.models import MAX_CONTENT_LENGTH
from numeneon import openapi
from numeneon.errors import NotFound
from numeneon.fields import IdField, LimitField, StrictCharField
from numeneon.inputs import validated_body, validated_query


class SendMessageApi(APIView):
    # The token's signature and claims only: message_send reads the sender's row (is it still
    # there and active?) in the query that reads the receiver, one query fewer per message.
    authentication_classes = [JWTStatelessUserAuthentication]
    throttle_scope = "message_send"

    @extend_schema_serializer(component_name="SendMessageRequest")
    class InputSerializer(serializers.Serializer):
        receiver_id = IdField()
        content = StrictCharField(max_length=MAX_CONTENT_LENGTH)

    @openapi.operation(
        request=InputSerializer,
        # The same bearer JWT as everywhere (JWTAuthentication's scheme, not a second one).
        auth=[{"jwtAuth": []}],
        throttled=True,
        description="Only to a friend; the receiver gets a `new_message` event. `content` is "
        "trimmed, then must hold 1 to 5000 characters.",
        responses={
            201: openapi.MessageSerializer,
            400: openapi.validation("a missing or non-integer `receiver_id`")
            + "; `empty_content`, `content_too_long`, `cannot_message_self`",
            403: "`not_friends`",
            404: "`user_not_found`: no such receiver",
        },
    )
    def post(self, request):
        data = validated_body(self.InputSerializer, request)
        try:
            message = services.message_send(actor=request.user, **data)
        except services.SenderUnavailable as error:
            # As JWTAuthentication says it, WWW-Authenticate header included.
            raise AuthenticationFailed(error.message, code=error.code) from None
        return Response(selectors.message_out(message), status=status.HTTP_201_CREATED)


class ConversationListApi(APIView):
    @extend_schema_serializer(component_name="Conversation")
    class OutputSerializer(serializers.Serializer):
        user = UserSummarySerializer()
        last_message = openapi.MessageSerializer()
        unread_count = serializers.IntegerField()

    @openapi.operation(
        description="One entry per person you exchanged messages with, newest conversation first.",
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request):
        return Response(selectors.conversations(user=request.user))


class ThreadApi(APIView):
    class QuerySerializer(serializers.Serializer):
        before = IdField(required=False)
        limit = LimitField(
            maximum=selectors.THREAD_MAX_LIMIT, default=selectors.THREAD_DEFAULT_LIMIT
        )

    @openapi.operation(
        parameters=[QuerySerializer],
        description="A plain list, oldest first: the newest `limit` (default 50) messages "
        "between you and `user_id` older than the message `before`.",
        responses={
            200: openapi.MessageSerializer(many=True),
            400: openapi.validation("`before` or `limit` not a positive integer"),
            404: "`user_not_found`",
        },
    )
    def get(self, request, user_id: int):
        query = validated_query(self.QuerySerializer, request)
        if not User.objects.filter(pk=user_id).exists():
            raise NotFound("user_not_found", "No such user.")
        messages = selectors.thread(
            user=request.user, other_id=user_id, before=query.get("before"), limit=query["limit"]
        )
        return Response([selectors.message_out(m) for m in messages])


class MarkReadApi(APIView):
    @openapi.operation(
        request=None,
        description="Marks the messages `user_id` sent you read; they get a `messages_read` "
        "event when there were any.",
        responses={
            200: openapi.MarkedReadSerializer,
            404: "`user_not_found` (yourself included)",
        },
    )
    def post(self, request, user_id: int):
        count = services.messages_mark_read(actor=request.user, other_id=user_id)
        return Response({"marked_read": count})


class MarkReadAllApi(APIView):
    """`read_all/?user_id=`: the path the NUMENEON web app calls."""

    class QuerySerializer(serializers.Serializer):
        user_id = IdField()

    @openapi.operation(
        request=None,
        parameters=[QuerySerializer],
        description="The same as `POST /api/messages/conversation/{user_id}/read/`.",
        responses={
            200: openapi.MarkedReadSerializer,
            400: openapi.validation("a missing or non-integer `user_id`"),
            404: "`user_not_found` (yourself included)",
        },
    )
    def post(self, request):
        query = validated_query(self.QuerySerializer, request)
        count = services.messages_mark_read(actor=request.user, other_id=query["user_id"])
        return Response({"marked_read": count})


class UnreadCountApi(APIView):
    @openapi.operation(
        description="How many messages to you are unread.",
        responses={200: openapi.UnreadCountSerializer},
    )
    def get(self, request):
        return Response({"unread": selectors.unread_count(user=request.user)})
