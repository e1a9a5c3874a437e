"""Reads of users, and the shapes in which users are shown to others."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import Profile, User
from numeneon.timefmt import iso

SEARCH_LIMIT = 20


def user_brief(user: User) -> dict:
    """How a message names its sender and receiver."""
    return {"id": user.id, "username": user.username}


def user_summary(user: User) -> dict:
    """How a user is shown to anyone: never the email."""
    return {**user_brief(user), "first_name": user.first_name, "last_name": user.last_name}


def profile_of(user: User) -> Profile:
    """The user's profile, or an empty unsaved one for a user that has none yet (made by
    createsuperuser, the admin or a test): readers show it as the empty profile. Read from
    what select_related("profile") loaded when it did."""
    try:
        return user.profile
    except Profile.DoesNotExist:
        return Profile(user_id=user.pk)


def profile_out(profile: Profile) -> dict:
    return {
        "bio": profile.bio,
        "avatar": profile.avatar,
        "location": profile.location,
        "website": profile.website,
    }


def user_with_picture(user: User) -> dict:
    """A user summary with the avatar URL: how lists (search, suggestions) show people."""
    return {**user_summary(user), "profile_picture": profile_of(user).avatar}


def user_profile(user: User) -> dict:
    """How a user's own page shows them, to anyone: never the email."""
    profile = profile_of(user)
    return {
        **user_summary(user),
        "profile_picture": profile.avatar,
        "date_joined": iso(user.date_joined),
        "profile": profile_out(profile),
    }


def user_me(user: User) -> dict:
    """How a user is shown to that same user by `me/`: their profile, with the email."""
    return {**user_profile(user), "email": user.email}


def user_private(user: User) -> dict:
    """How a user is shown to that same user."""
    return {**user_summary(user), "email": user.email}


def user_get_active(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id, is_active=True).first()


def user_get_by_username(*, username: str) -> User | None:
    return (
        User.objects.filter(username__iexact=username, is_active=True)
        .select_related("profile")
        .first()
    )


def user_search(*, actor: User, query: str) -> QuerySet[User]:
    query = query.strip()
    if not query:
        return User.objects.none()
    return (
        User.objects.filter(is_active=True)
        .select_related("profile")
        .filter(
            Q(username__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
        )
        .exclude(pk=actor.pk)
        .order_by("username")[:SEARCH_LIMIT]
    )
