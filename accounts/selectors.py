"""Reads of users, and the shapes in which users are shown to others."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User

SEARCH_LIMIT = 20


def user_summary(user: User) -> dict:
    """How a user is shown to anyone: never the email."""
    return {
        "id": user.id,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


def user_brief(user: User) -> dict:
    return {"id": user.id, "username": user.username}


def user_private(user: User) -> dict:
    """How a user is shown to that same user."""
    return {**user_summary(user), "email": user.email}


def user_get_active(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id, is_active=True).first()


def user_get_by_username(*, username: str) -> User | None:
    return User.objects.filter(username__iexact=username, is_active=True).first()


def user_search(*, actor: User, query: str) -> QuerySet[User]:
    query = query.strip()
    if not query:
        return User.objects.none()
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(username__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
        )
        .exclude(pk=actor.pk)
        .order_by("username")[:SEARCH_LIMIT]
    )
