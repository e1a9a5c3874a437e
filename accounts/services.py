"""Every write to accounts: signup, login, token rotation, logout."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from numeneon.errors import ApplicationError


def _uniqueness_errors(*, username: str, email: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["A user with that username already exists."]
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = ["A user with that email already exists."]
    return errors


def user_create(*, username: str, email: str, password: str, display_name: str = "") -> User:
    first_name, _, last_name = display_name.strip().partition(" ")
    user = User(
        username=username,
        email=email,
        first_name=first_name[:150],
        last_name=last_name.strip()[:150],
    )
    errors = _uniqueness_errors(username=username, email=email)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Lost a race with a signup of the same name: report it like the check above.
        raise ValidationError(
            _uniqueness_errors(username=username, email=email)
            or {"username": ["A user with that username already exists."]}
        ) from None
    return user


def tokens_for(user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def user_login(*, password: str, username: str = "", email: str = "") -> User:
    lookup = Q(username__iexact=username) if username else Q(email__iexact=email)
    match = User.objects.filter(lookup).values_list("username", flat=True).first()
    # An unknown name still goes through authenticate() so that it costs a password hash.
    user = authenticate(username=match or username or email, password=password)
    if user is None:
        raise ApplicationError("invalid_credentials", "Invalid credentials.", status_code=401)
    return user


def refresh_token_blacklist(*, actor: User, refresh: str) -> None:
    try:
        token = RefreshToken(refresh)
    except TokenError:
        raise ApplicationError(
            "token_not_valid", "Token is invalid or expired", status_code=401
        ) from None
    if str(token.get("user_id")) != str(actor.pk):
        raise ApplicationError("token_not_valid", "Token is invalid or expired", status_code=401)
    token.blacklist()
