"""Friends endpoints: one thin view per operation."""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_summary
from friends import selectors, services
from friends.models import FriendRequest
from numeneon.timefmt import iso


def request_out(request: FriendRequest) -> dict:
    return {
        "id": request.pk,
        "from_user": user_summary(request.from_user),
        "to_user": user_summary(request.to_user),
        "created_at": iso(request.created_at),
    }


class FriendListApi(APIView):
    def get(self, request):
        return Response([user_summary(u) for u in selectors.friend_list(user=request.user)])


class IncomingRequestsApi(APIView):
    def get(self, request):
        return Response(
            [
                {
                    "id": r.pk,
                    "from_user": user_summary(r.from_user),
                    "created_at": iso(r.created_at),
                }
                for r in selectors.incoming_requests(user=request.user)
            ]
        )


class OutgoingRequestsApi(APIView):
    def get(self, request):
        return Response(
            [
                {"id": r.pk, "to_user": user_summary(r.to_user), "created_at": iso(r.created_at)}
                for r in selectors.outgoing_requests(user=request.user)
            ]
        )


class SendRequestApi(APIView):
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


class AcceptRequestApi(APIView):
    def post(self, request, request_id: int):
        friend = services.friend_request_accept(actor=request.user, request_id=request_id)
        return Response(
            {"message": "Friend request accepted.", "friend": user_summary(friend)},
            status=status.HTTP_201_CREATED,
        )


class DeclineRequestApi(APIView):
    def post(self, request, request_id: int):
        services.friend_request_decline(actor=request.user, request_id=request_id)
        return Response({"message": "Friend request declined."})


class CancelRequestApi(APIView):
    def delete(self, request, user_id: int):
        services.friend_request_cancel(actor=request.user, to_user_id=user_id)
        return Response({"message": "Friend request cancelled."})


class RemoveFriendApi(APIView):
    def delete(self, request, user_id: int):
        services.friendship_remove(actor=request.user, user_id=user_id)
        return Response({"message": "Friend removed."})
