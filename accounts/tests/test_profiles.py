"""Profiles below the API: the signup service creates one, profile_update saves one, and the
selectors show the empty profile of a user who has none."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from accounts import selectors
from accounts.models import Profile, User
from accounts.services import profile_update, user_create
from numeneon.timefmt import iso
from tests.helpers import EMPTY_PROFILE, profile_user

pytestmark = pytest.mark.django_db


def test_signing_up_creates_an_empty_profile():
    user = user_create(username="dora", email="dora@example.com", password="explorer-of-maps-7")
    profile = Profile.objects.get(user=user)
    assert (profile.bio, profile.location, profile.website, profile.avatar) == ("", "", "", None)


def test_profile_update_saves_the_given_fields_only(alice):
    profile_update(user=alice, bio="Curious.", website="https://alice.example.com")
    user = profile_update(user=alice, location="Wonderland", last_name="L.")
    profile = Profile.objects.get(user=alice)
    assert (profile.bio, profile.location, profile.website, profile.avatar) == (
        "Curious.",
        "Wonderland",
        "https://alice.example.com",
        None,
    )
    assert User.objects.get(pk=alice.pk).last_name == "L."
    assert user.profile == profile


def test_profile_update_creates_the_missing_profile(alice):
    assert not Profile.objects.filter(user=alice).exists()
    profile_update(user=alice, avatar="https://img.example.com/a.png")
    assert Profile.objects.get(user=alice).avatar == "https://img.example.com/a.png"


def test_profile_update_refuses_a_field_that_is_not_the_profiles(alice):
    with pytest.raises(ValueError, match="email"):
        profile_update(user=alice, email="x@example.com")


@pytest.mark.parametrize(
    "fields",
    [{"avatar": "http://img.example.com/a.png"}, {"website": "javascript:alert(1)"}],
)
def test_the_table_refuses_a_link_that_is_not_http(alice, fields):
    # The API validates first; the constraint keeps a raw save from storing such a link.
    with pytest.raises(IntegrityError):
        Profile.objects.create(user=alice, **fields)


def test_a_user_without_a_profile_is_shown_with_the_empty_profile(alice):
    user = User.objects.get(pk=alice.pk)
    assert selectors.user_profile(user) == {
        **profile_user(alice),
        "date_joined": iso(alice.date_joined),
        "profile": EMPTY_PROFILE,
    }
    assert not Profile.objects.filter(user=alice).exists()


def test_the_me_shape_is_the_profile_user_with_the_email(alice):
    profile_update(user=alice, avatar="https://img.example.com/a.png", bio="Hi")
    user = User.objects.select_related("profile").get(pk=alice.pk)
    assert selectors.user_me(user) == {
        **profile_user(alice, "https://img.example.com/a.png"),
        "email": "alice@example.com",
        "date_joined": iso(alice.date_joined),
        "profile": {**EMPTY_PROFILE, "bio": "Hi", "avatar": "https://img.example.com/a.png"},
    }


def test_a_list_entry_is_the_summary_with_the_picture(alice, bob):
    profile_update(user=bob, avatar="https://img.example.com/b.png")
    users = User.objects.select_related("profile").order_by("username")
    assert [selectors.user_with_picture(u) for u in users] == [
        profile_user(alice),
        profile_user(bob, "https://img.example.com/b.png"),
    ]


def test_the_data_migration_gives_every_existing_user_a_profile(alice, bob):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("accounts.migrations.0004_profile")
    Profile.objects.create(user=bob, bio="Kept.")
    migration.create_missing_profiles(apps, None)
    assert set(Profile.objects.values_list("user_id", "bio")) == {(alice.pk, ""), (bob.pk, "Kept.")}
