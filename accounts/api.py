"""Accounts endpoints: one thin view per operation, serializers beside each."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenRefreshView

from accounts import selectors, services
from numeneon.errors import NotFound
from numeneon.fields import StrictCharField


class SignupApi(APIView):
    throttle_scope = "signup"
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        username = StrictCharField(max_length=150)
        email = serializers.EmailField(max_length=254)
        password = StrictCharField(max_length=128, trim_whitespace=False)
        display_name = StrictCharField(max_length=300, required=False, allow_blank=True)

        def validate_username(self, value: str) -> str:
            UnicodeUsernameValidator()(value)
            return value

    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_create(**serializer.validated_data)
        return Response(
            {
                "message": "Account created.",
                "user": selectors.user_private(user),
                **services.tokens_for(user),
            },
            status=status.HTTP_201_CREATED,
        )


class LoginApi(APIView):
    throttle_scope = "login"
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        username = StrictCharField(max_length=254, required=False)
        email = StrictCharField(max_length=254, required=False)
        password = StrictCharField(max_length=128, trim_whitespace=False)

        def validate(self, attrs: dict) -> dict:
            if not attrs.get("username") and not attrs.get("email"):
                raise serializers.ValidationError({"username": ["Give a username or an email."]})
            return attrs

    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_login(**serializer.validated_data)
        return Response({**services.tokens_for(user), "user": selectors.user_private(user)})


class RefreshApi(TokenRefreshView):
    """simplejwt's refresh: rotates, and blacklists the token it was given."""


class LogoutApi(APIView):
    class InputSerializer(serializers.Serializer):
        refresh = StrictCharField(max_length=4096)

    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.refresh_token_blacklist(actor=request.user, **serializer.validated_data)
        return Response(status=status.HTTP_205_RESET_CONTENT)


class WsTicketApi(APIView):
    """A single-use ticket for `/ws/notifications/?ticket=`: no long-lived secret in a URL."""

    throttle_scope = "ws_ticket"

    def post(self, request):
        token_expires_at = datetime.fromtimestamp(request.auth["exp"], tz=UTC)
        ticket, expires_in = services.ws_ticket_issue(
            user=request.user, token_expires_at=token_expires_at
        )
        return Response(
            {"ticket": ticket, "expires_in": expires_in}, status=status.HTTP_201_CREATED
        )


class MeApi(APIView):
    def get(self, request):
        return Response(selectors.user_private(request.user))


class SearchApi(APIView):
    def get(self, request):
        users = selectors.user_search(actor=request.user, query=request.query_params.get("q", ""))
        return Response([selectors.user_summary(user) for user in users])


class UserDetailApi(APIView):
    def get(self, request, username: str):
        user = selectors.user_get_by_username(username=username)
        if user is None:
            raise NotFound("user_not_found", "No such user.")
        return Response(selectors.user_summary(user))
