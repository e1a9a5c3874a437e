"""The NUMENEON user: Django's user, with usernames and emails unique whatever their case."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    class Meta:
        indexes = [
            # Friend suggestions fill with the newest accounts: read backwards, it stops at the
            # first few instead of sorting every user.
            models.Index(fields=["date_joined", "id"], name="user_date_joined"),
        ]
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="user_email_ci_unique"
            ),
        ]


class Profile(models.Model):
    """What a person says about themselves. One per user, keyed by the user's id, so that it
    joins to the user on the primary key. Users made outside signup (createsuperuser, the
    admin) have none until they first save one: readers show the empty profile then."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    bio = models.CharField(max_length=500, blank=True, default="")
    location = models.CharField(max_length=100, blank=True, default="")
    website = models.CharField(max_length=200, blank=True, default="")
    # A URL of an image hosted elsewhere: the web app uploads the file itself and sends the URL.
    avatar = models.CharField(max_length=500, null=True, blank=True, default=None)

    class Meta:
        constraints = [
            # Shown as a link and an <img src> to everyone: no javascript: or data: URL.
            models.CheckConstraint(
                condition=models.Q(website="")
                | models.Q(website__startswith="http://")
                | models.Q(website__startswith="https://"),
                name="profile_website_http",
            ),
            models.CheckConstraint(
                condition=models.Q(avatar__isnull=True) | models.Q(avatar__startswith="https://"),
                name="profile_avatar_https",
            ),
        ]

    def __str__(self) -> str:
        return f"profile of user {self.user_id}"


class LoginSession(models.Model):
    """One login. Every refresh token issued in it names it (the `sid` claim), so that a
    logout refuses them all at once while other logins of the same person go on."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        state = "ended" if self.ended_at else "open"
        return f"login session {self.pk} of user {self.user_id} ({state})"
