"""The stored-event feed over REST: what a reloaded page or a `recovered: false` client reads."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.services import event_frame
from numeneon import openapi
from numeneon.fields import IdField

FEED_DEFAULT_LIMIT = 50
FEED_MAX_LIMIT = 200


class FeedApi(APIView):
    class QuerySerializer(serializers.Serializer):
        after = IdField(required=False, min_value=0)
        limit = IdField(required=False, help_text="At most 200 (a larger one is capped).")

    @extend_schema(
        parameters=[QuerySerializer],
        description="Your stored events with an id above `after`, oldest first, at most "
        "`limit` (default 50); without `after`, the newest `limit`, oldest first.",
        responses={
            200: openapi.EVENT_LIST,
            **openapi.error_responses(
                {400: openapi.validation("`after` or `limit` not a valid integer")}
            ),
        },
    )
    def get(self, request):
        # .dict(): an empty `?limit=` is a 400, not silently "no limit" (DRF's form handling).
        query = self.QuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        limit = min(query.validated_data.get("limit", FEED_DEFAULT_LIMIT), FEED_MAX_LIMIT)
        events = selectors.feed(
            user_id=request.user.pk, after=query.validated_data.get("after"), limit=limit
        )
        return Response([{**event_frame(e), "read_at": e.read_at} for e in events])


class UnreadCountApi(APIView):
    @extend_schema(
        description="How many of your stored events are unread.",
        responses={200: openapi.UnreadCountSerializer, **openapi.error_responses()},
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

    @extend_schema(
        request=InputSerializer,
        description="Marks your events read: those in `ids`, or all up to `up_to`; give one of "
        "the two.",
        responses={
            200: openapi.MarkedReadSerializer,
            **openapi.error_responses(
                {400: openapi.validation('both or neither of "ids" and "up_to", bad ids')},
                body=True,
            ),
        },
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        count = services.notifications_mark_read(
            actor_id=request.user.pk, **serializer.validated_data
        )
        return Response({"marked_read": count})
