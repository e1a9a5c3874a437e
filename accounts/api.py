"""Accounts endpoints: one thin view per operation, serializers beside each."""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.views import TokenRefreshView

from accounts import selectors, services
from accounts.models import User
from accounts.tokens import RefreshToken
from numeneon import openapi
from numeneon.errors import NotFound
from numeneon.fields import StrictCharField
from numeneon.inputs import validated_body

# --- Shapes several views answer with; other apps' shapes embed the user summary ------------


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


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Access JWT, for `Authorization: Bearer`.")
    refresh = serializers.CharField(help_text="Refresh JWT of the login session.")


# --- Views ----------------------------------------------------------------------------------


# Open to anyone, and no credential is read: a stale token in the browser must not make signing
# up or logging in fail. (Not a docstring: drf-spectacular would show it as the description of
# the subclasses' operations.)
class AnonymousApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []


class SignupApi(AnonymousApi):
    throttle_scope = "signup"

    @extend_schema_serializer(component_name="SignupRequest")
    class InputSerializer(serializers.Serializer):
        username = StrictCharField(max_length=150)
        email = serializers.EmailField(max_length=254)
        password = StrictCharField(max_length=128, trim_whitespace=False)
        display_name = StrictCharField(max_length=300, required=False, allow_blank=True)

        def validate_username(self, value: str) -> str:
            UnicodeUsernameValidator()(value)
            return value

    @extend_schema_serializer(component_name="SignupResponse")
    class OutputSerializer(TokenPairSerializer):
        message = serializers.CharField()
        user = PrivateUserSerializer()

    @openapi.operation(
        auth=[],
        request=InputSerializer,
        throttled=True,
        responses={
            201: OutputSerializer,
            400: openapi.validation(
                "a taken username or email (case-insensitive), a weak password "
                "(Django's validators), a bad email or username"
            ),
        },
    )
    def post(self, request):
        user = services.user_create(**validated_body(self.InputSerializer, request))
        return Response(
            {
                "message": "Account created.",
                "user": selectors.user_private(user),
                **services.tokens_for(user),
            },
            status=status.HTTP_201_CREATED,
        )


class LoginApi(AnonymousApi):
    throttle_scope = "login"

    @extend_schema_serializer(component_name="LoginRequest")
    class InputSerializer(serializers.Serializer):
        username = StrictCharField(max_length=254, required=False)
        email = StrictCharField(max_length=254, required=False)
        password = StrictCharField(max_length=128, trim_whitespace=False)

        def validate(self, attrs: dict) -> dict:
            if not attrs.get("username") and not attrs.get("email"):
                raise serializers.ValidationError({"username": ["Give a username or an email."]})
            return attrs

    @extend_schema_serializer(component_name="LoginResponse")
    class OutputSerializer(TokenPairSerializer):
        user = PrivateUserSerializer()

    @openapi.operation(
        auth=[],
        request=InputSerializer,
        throttled=True,
        description="`password` and one of `username`, `email`.",
        responses={
            200: OutputSerializer,
            400: openapi.validation("neither `username` nor `email`"),
            401: "`invalid_credentials`",
        },
    )
    def post(self, request):
        user = services.user_login(**validated_body(self.InputSerializer, request))
        return Response({**services.tokens_for(user), "user": selectors.user_private(user)})


class SessionRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh, for a token whose login session has not ended. Without strict
    rotation the answer's `refresh` is the token given, which keeps working."""

    token_class = RefreshToken

    def validate(self, attrs: dict) -> dict:
        try:
            data = super().validate(attrs)
        except User.DoesNotExist:  # simplejwt's .get() of a deleted user's token: a 500
            raise AuthenticationFailed("User not found", "user_not_found") from None
        data.setdefault("refresh", attrs["refresh"])
        return data


class RefreshRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField()


@openapi.operation(
    auth=[],
    request=RefreshRequestSerializer,
    description="A new access token. `refresh` is the refresh token given, which keeps "
    "working until it expires or its login session is logged out; with strict rotation "
    "(`STRICT_REFRESH_ROTATION`) it is a new one and the one given is refused from then on.",
    responses={
        200: TokenPairSerializer,
        400: openapi.validation("no `refresh`"),
        401: "`token_not_valid`: a malformed or expired token, one of a logged-out "
        "session, or (strict rotation) one already used",
    },
)
class RefreshApi(TokenRefreshView):
    serializer_class = SessionRefreshSerializer


class LogoutApi(APIView):
    @extend_schema_serializer(component_name="LogoutRequest")
    class InputSerializer(serializers.Serializer):
        refresh = StrictCharField(max_length=4096)

    @openapi.operation(
        request=InputSerializer,
        description="Ends the login session of the refresh token, which must be the caller's "
        "own: every refresh token of that session is refused from then on. The caller's other "
        "sessions go on; access tokens already issued expire on their own.",
        responses={
            205: OpenApiResponse(description="Logged out; no body."),
            400: openapi.validation("no `refresh`"),
            401: "`token_not_valid`: the refresh token is not valid, or not yours",
        },
    )
    def post(self, request):
        data = validated_body(self.InputSerializer, request)
        services.login_session_end(actor=request.user, **data)
        return Response(status=status.HTTP_205_RESET_CONTENT)


class MeApi(APIView):
    @openapi.operation(
        description="You, with your profile and your email.", responses={200: MeSerializer}
    )
    def get(self, request):
        return Response(selectors.user_me(request.user))


def _url(value: str, schemes: tuple[str, ...], message: str) -> str:
    # The scheme is checked as written, lower case: URLValidator would also take "HTTPS://",
    # which the table's constraint (and a browser's <img src> check in the web app) does not.
    if not value.startswith(tuple(f"{scheme}://" for scheme in schemes)):
        raise serializers.ValidationError(message)
    try:
        URLValidator(schemes=list(schemes))(value)
    except DjangoValidationError:
        raise serializers.ValidationError(message) from None
    return value


class ProfileApi(APIView):
    @extend_schema_serializer(component_name="ProfileUpdateRequest")
    class InputSerializer(serializers.Serializer):
        bio = StrictCharField(max_length=500, required=False, allow_blank=True)
        location = StrictCharField(max_length=100, required=False, allow_blank=True)
        website = StrictCharField(
            max_length=200,
            required=False,
            allow_blank=True,
            help_text='An http or https URL, or "" for none.',
        )
        avatar = StrictCharField(
            max_length=500,
            required=False,
            allow_blank=True,
            allow_null=True,
            help_text='An https URL of an image hosted elsewhere; null or "" removes it.',
        )
        first_name = StrictCharField(max_length=150, required=False, allow_blank=True)
        last_name = StrictCharField(max_length=150, required=False, allow_blank=True)

        def to_internal_value(self, data):
            # An unknown field is refused rather than ignored: a client that misspells a field
            # (or sends one this server does not keep) learns it instead of losing the value.
            errors: dict = {}
            if isinstance(data, Mapping):
                unknown = sorted(str(name) for name in set(data) - set(self.fields))
                errors = {name: ["Unknown field."] for name in unknown}
            try:
                value = super().to_internal_value(data)
            except serializers.ValidationError as exc:
                if not errors or not isinstance(exc.detail, dict):
                    raise
                raise serializers.ValidationError({**exc.detail, **errors}) from None
            if errors:
                raise serializers.ValidationError(errors)
            return value

        def validate_website(self, value: str) -> str:
            return value and _url(value, ("http", "https"), "Enter an http or https URL.")

        def validate_avatar(self, value: str | None) -> str | None:
            return _url(value, ("https",), "Enter an https URL.") if value else None

    @openapi.operation(
        request=InputSerializer,
        description="Changes the fields given, and answers what `me/` answers. An unknown "
        "field is a 400.",
        responses={
            200: MeSerializer,
            400: openapi.validation(
                "a field too long, a `website` that is not an http(s) URL, an `avatar` "
                "that is not an https URL, a field that is not a string, an unknown field"
            ),
        },
    )
    def patch(self, request):
        data = validated_body(self.InputSerializer, request)
        user = services.profile_update(user=request.user, **data)
        return Response(selectors.user_me(user))


class SearchApi(APIView):
    @openapi.operation(
        description="Users whose username, first or last name contains `q`; at most 20, "
        "never yourself.",
        parameters=[OpenApiParameter("q", str, description="What to look for.")],
        responses={200: UserWithPictureSerializer(many=True)},
    )
    def get(self, request):
        users = selectors.user_search(actor=request.user, query=request.query_params.get("q", ""))
        return Response([selectors.user_with_picture(user) for user in users])


class UserDetailApi(APIView):
    @openapi.operation(responses={200: ProfileUserSerializer, 404: "`user_not_found`"})
    def get(self, request, username: str):
        user = selectors.user_get_by_username(username=username)
        if user is None:
            raise NotFound("user_not_found", "No such user.")
        return Response(selectors.user_profile(user))
