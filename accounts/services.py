"""Every write to accounts: signup, login sessions and their tokens, logout, lock-out, profile
edits."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import LoginSession, Profile, User
from accounts.tokens import SESSION_CLAIM, RefreshToken, RefreshTokenClaims, live_session_id
from numeneon.errors import ApplicationError


def _uniqueness_errors(*, username: str, email: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["A user with that username already exists."]
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = ["A user with that email already exists."]
    return errors


def user_create(*, username: str, email: str, password: str, display_name: str = "") -> User:
    # NFKC, as Django's own forms and create_user do: a full-width or otherwise compatible
    # twin of a name is that name, and the case-insensitive check below sees it.
    username = User.normalize_username(username)
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
            Profile.objects.create(user=user)
    except IntegrityError:
        # Lost a race with a signup of the same name: report it like the check above.
        raise ValidationError(
            _uniqueness_errors(username=username, email=email)
            or {"username": ["A user with that username already exists."]}
        ) from None
    return user


# What `profile_update` may change, and on which row.
PROFILE_FIELDS = ("bio", "location", "website", "avatar")
USER_NAME_FIELDS = ("first_name", "last_name")


@transaction.atomic
def profile_update(*, user: User, **changes: str | None) -> User:
    """Saves the given profile and name fields (already validated by the caller); creates the
    profile of a user that has none. Answers the user with the saved profile loaded."""
    unknown = set(changes) - set(PROFILE_FIELDS) - set(USER_NAME_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    # Only the given columns are written: two edits of different fields at once both stick.
    profile, _ = Profile.objects.get_or_create(user_id=user.pk)
    profile_changes = {k: v for k, v in changes.items() if k in PROFILE_FIELDS}
    if profile_changes:
        for field, value in profile_changes.items():
            setattr(profile, field, value)
        profile.save(update_fields=list(profile_changes))
    name_changes = {k: v for k, v in changes.items() if k in USER_NAME_FIELDS}
    if name_changes:
        for field, value in name_changes.items():
            setattr(user, field, value)
        user.save(update_fields=list(name_changes))
    user.profile = profile
    return user


def tokens_for(user: User) -> dict[str, str]:
    """Start a login session: an access token and a refresh token that names the session."""
    session = LoginSession.objects.create(user=user)
    refresh = RefreshToken.for_user(user)
    refresh[SESSION_CLAIM] = session.pk
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def user_login(*, password: str, username: str = "", email: str = "") -> User:
    username = User.normalize_username(username)
    lookup = Q(username__iexact=username) if username else Q(email__iexact=email)
    match = User.objects.filter(lookup).values_list("username", flat=True).first()
    # An unknown name still goes through authenticate() so that it costs a password hash.
    user = authenticate(username=match or username or email, password=password)
    if user is None:
        raise ApplicationError("invalid_credentials", "Invalid credentials.", status_code=401)
    return user


@transaction.atomic
def login_session_end(*, actor: User, refresh: str) -> None:
    """Log out: every refresh token of the session that `refresh` belongs to is refused from
    now on; the caller's other sessions go on. A token that strict rotation has replaced
    already still ends its session: a logout racing a refresh in another tab must not leave
    the session alive."""
    try:
        claims = RefreshTokenClaims(refresh)  # all but the blacklist
        session_id = live_session_id(claims)
        sessionless = RefreshToken(refresh) if session_id is None else None
    except TokenError:
        raise ApplicationError(
            "token_not_valid", "Token is invalid or expired", status_code=401
        ) from None
    if str(claims.get(jwt_settings.USER_ID_CLAIM)) != str(actor.pk):
        raise ApplicationError("token_not_valid", "Token is invalid or expired", status_code=401)
    if sessionless is not None:
        sessionless.blacklist()
    else:
        LoginSession.objects.filter(pk=session_id, ended_at__isnull=True).update(
            ended_at=timezone.now()
        )


@transaction.atomic
def user_lock_out(*, user: User) -> None:
    """The accounts half of deactivation: no login, no refresh (every session ends). Call
    notifications.services.user_deactivate, which also closes the user's open sockets."""
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    LoginSession.objects.filter(user=user, ended_at__isnull=True).update(ended_at=timezone.now())
    for token in OutstandingToken.objects.filter(user=user):
        BlacklistedToken.objects.get_or_create(token=token)
