"""Friends endpoints: one thin view per operation, the shapes it answers with beside it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import UserSummarySerializer, UserWithPictureSerializer
from accounts.selectors import user_summary, user_with_picture
from friends import selectors, services
from friends.models import FriendRequest
from numeneon import openapi
from numeneon.fields import LimitField
from numeneon.inputs import validated_query
from numeneon.timefmt import iso


def request_out(request: FriendRequest, *, from_user: bool = True, to_user: bool = True) -> dict:
    """A friend request as the API shows it; the lists of pending requests leave out the side
    that is you."""
    body: dict = {"id": request.pk}
    if from_user:
        body["from_user"] = user_summary(request.from_user)
    if to_user:
        body["to_user"] = user_summary(request.to_user)
    body["created_at"] = iso(request.created_at)
    return body


class FriendRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    from_user = UserSummarySerializer()
    to_user = UserSummarySerializer()
    created_at = serializers.DateTimeField()


class FriendListApi(APIView):
    @openapi.operation(
        description="Your friends, by username.",
        responses={200: UserSummarySerializer(many=True)},
    )
    def get(self, request):
        return Response([user_summary(u) for u in selectors.friend_list(user=request.user)])


class SuggestionsApi(APIView):
    class QuerySerializer(serializers.Serializer):
        limit = LimitField(
            maximum=selectors.SUGGESTIONS_MAX_LIMIT, default=selectors.SUGGESTIONS_DEFAULT_LIMIT
        )

    @extend_schema_serializer(component_name="Suggestion")
    class OutputSerializer(UserWithPictureSerializer):
        mutual_friends_count = serializers.IntegerField(
            help_text="How many of your friends are this person's friends."
        )

    @openapi.operation(
        parameters=[QuerySerializer],
        description="People you may know, at most `limit` (default 20): not you, not your "
        "friends, not inactive, no pending request with you either way; most mutual friends "
        "first, then the newest accounts.",
        responses={
            200: OutputSerializer(many=True),
            400: openapi.validation("`limit` not a positive integer"),
        },
    )
    def get(self, request):
        limit = validated_query(self.QuerySerializer, request)["limit"]
        return Response(
            [
                {**user_with_picture(user), "mutual_friends_count": user.mutual_friends_count}
                for user in selectors.friend_suggestions(user=request.user, limit=limit)
            ]
        )


class IncomingRequestsApi(APIView):
    @extend_schema_serializer(component_name="IncomingFriendRequest")
    class OutputSerializer(FriendRequestSerializer):
        to_user = None  # you (a field set to None is left out of a subclass, in DRF)

    @openapi.operation(
        description="Pending requests addressed to you, newest first.",
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request):
        requests = selectors.incoming_requests(user=request.user)
        return Response([request_out(r, to_user=False) for r in requests])


class OutgoingRequestsApi(APIView):
    @extend_schema_serializer(component_name="OutgoingFriendRequest")
    class OutputSerializer(FriendRequestSerializer):
        from_user = None  # you

    @openapi.operation(
        description="Your pending requests to others, newest first.",
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request):
        requests = selectors.outgoing_requests(user=request.user)
        return Response([request_out(r, from_user=False) for r in requests])


class SendRequestApi(APIView):
    @extend_schema_serializer(component_name="FriendRequestSent")
    class OutputSerializer(serializers.Serializer):
        message = serializers.CharField()
        request = FriendRequestSerializer()
        friend = UserSummarySerializer(
            required=False,
            help_text="Only when that user had already asked you: their request was accepted.",
        )

    @openapi.operation(
        request=None,
        description="Asks `user_id` to be friends (they get a `friend_request` event). If "
        "they had already asked you, this accepts their request instead: the answer then "
        "carries `friend`.",
        responses={
            201: OutputSerializer,
            400: "`cannot_friend_self`, `already_requested`, `already_friends`",
            404: "`user_not_found`",
        },
    )
    def post(self, request, user_id: int):
        outcome = services.friend_request_send(actor=request.user, to_user_id=user_id)
        if outcome.friend is not None:
            body = {
                "message": f"{outcome.friend.username} had already asked you: you are now friends.",
                "friend": user_summary(outcome.friend),
                "request": request_out(outcome.request),
            }
        else:
            body = {"message": "Friend request sent.", "request": request_out(outcome.request)}
        return Response(body, status=status.HTTP_201_CREATED)


# Accepting and declining check the same: the request is pending and addressed to you.
ANSWER_ERRORS = {
    403: "`not_your_request`: the request is not addressed to you",
    404: "`request_not_found`: unknown, or no longer pending",
}


class AcceptRequestApi(APIView):
    @extend_schema_serializer(component_name="FriendAccepted")
    class OutputSerializer(serializers.Serializer):
        message = serializers.CharField()
        friend = UserSummarySerializer()

    @openapi.operation(
        request=None,
        description="The requester gets a `friend_accepted` event.",
        responses={201: OutputSerializer, **ANSWER_ERRORS},
    )
    def post(self, request, request_id: int):
        friend = services.friend_request_accept(actor=request.user, request_id=request_id)
        return Response(
            {"message": "Friend request accepted.", "friend": user_summary(friend)},
            status=status.HTTP_201_CREATED,
        )


class DeclineRequestApi(APIView):
    @openapi.operation(
        request=None,
        responses={200: openapi.ConfirmationSerializer, **ANSWER_ERRORS},
    )
    def post(self, request, request_id: int):
        services.friend_request_decline(actor=request.user, request_id=request_id)
        return Response({"message": "Friend request declined."})


class CancelRequestApi(APIView):
    @openapi.operation(
        description="Withdraws your pending request to `user_id`.",
        responses={
            200: openapi.ConfirmationSerializer,
            404: "`request_not_found`: no pending request",
        },
    )
    def delete(self, request, user_id: int):
        services.friend_request_cancel(actor=request.user, to_user_id=user_id)
        return Response({"message": "Friend request cancelled."})


class RemoveFriendApi(APIView):
    @openapi.operation(
        description="Ends the friendship, both ways.",
        responses={200: openapi.ConfirmationSerializer, 404: "`not_friends`"},
    )
    def delete(self, request, user_id: int):
        services.friendship_remove(actor=request.user, user_id=user_id)
        return Response({"message": "Friend removed."})
