"""Messages endpoints: one thin view per operation."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from messages_app import selectors, services
from messages_app.models import MAX_CONTENT_LENGTH
from numeneon.errors import NotFound
from numeneon.fields import IdField, StrictCharField


class SendMessageApi(APIView):
    throttle_scope = "message_send"

    class InputSerializer(serializers.Serializer):
        receiver_id = IdField()
        content = StrictCharField(max_length=MAX_CONTENT_LENGTH)

    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.message_send(actor=request.user, **serializer.validated_data)
        return Response(selectors.message_out(message), status=status.HTTP_201_CREATED)


class ConversationListApi(APIView):
    def get(self, request):
        return Response(selectors.conversations(user=request.user))


class ThreadApi(APIView):
    class QuerySerializer(serializers.Serializer):
        before = IdField(required=False)
        limit = IdField(required=False)

    def get(self, request, user_id: int):
        # A plain dict: given a QueryDict, DRF reads `?limit=` as "not given" instead of a 400.
        query = self.QuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        if not User.objects.filter(pk=user_id).exists():
            raise NotFound("user_not_found", "No such user.")
        limit = min(
            query.validated_data.get("limit", selectors.THREAD_DEFAULT_LIMIT),
            selectors.THREAD_MAX_LIMIT,
        )
        messages = selectors.thread(
            user=request.user,
            other_id=user_id,
            before=query.validated_data.get("before"),
            limit=limit,
        )
        return Response([selectors.message_out(m) for m in messages])


class MarkReadApi(APIView):
    def post(self, request, user_id: int):
        count = services.messages_mark_read(actor=request.user, other_id=user_id)
        return Response({"marked_read": count})


class MarkReadAllApi(APIView):
    """`read_all/?user_id=`: the path the NUMENEON web app calls."""

    class QuerySerializer(serializers.Serializer):
        user_id = IdField()

    def post(self, request):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        count = services.messages_mark_read(
            actor=request.user, other_id=query.validated_data["user_id"]
        )
        return Response({"marked_read": count})


class UnreadCountApi(APIView):
    def get(self, request):
        return Response({"unread": selectors.unread_count(user=request.user)})
