"""End to end over a real Daphne and a real HTTP client: a profile edited by one person is
what others see, and suggestions count mutual friends made through the real endpoints."""

from __future__ import annotations

import pytest

from tests.e2e.servers import Person, befriend
from tests.helpers import unique

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def test_a_profile_edit_is_seen_by_others_and_suggestions_count_mutual_friends(server_a):
    alice, bob, carol, dave, erin, frank = (
        Person(server_a, unique(name))
        for name in ("alice", "bob", "carol", "dave", "erin", "frank")
    )

    # alice edits her profile: the answer is her me/ object.
    edit = {
        "bio": "Curiouser and curiouser.",
        "location": "Wonderland",
        "website": "https://alice.example.com",
        "avatar": "https://img.example.com/alice.png",
        "first_name": "Alice",
    }
    status, me = alice.api.request("PATCH", "/api/auth/profile/", edit)
    assert status == 200, me
    profile = {
        "bio": "Curiouser and curiouser.",
        "avatar": "https://img.example.com/alice.png",
        "location": "Wonderland",
        "website": "https://alice.example.com",
    }
    assert me == {
        "id": alice.id,
        "username": alice.username,
        "first_name": "Alice",
        "last_name": "",
        "email": f"{alice.username}@example.com",
        "profile_picture": "https://img.example.com/alice.png",
        "date_joined": me["date_joined"],
        "profile": profile,
    }
    assert me["date_joined"].endswith("Z")
    assert alice.api.get("/api/auth/me/") == (200, me)

    # bob sees it on her page, without her email, and in a search.
    status, page = bob.api.get(f"/api/auth/users/{alice.username}/")
    assert status == 200, page
    assert page == {key: value for key, value in me.items() if key != "email"}
    status, found = bob.api.get(f"/api/auth/search/?q={alice.username}")
    assert (status, found) == (
        200,
        [
            {
                "id": alice.id,
                "username": alice.username,
                "first_name": "Alice",
                "last_name": "",
                "profile_picture": "https://img.example.com/alice.png",
            }
        ],
    )

    # A bad edit is refused with the contract's body, and changes nothing.
    status, error = alice.api.request(
        "PATCH", "/api/auth/profile/", {"avatar": "http://img.example.com/a.png"}
    )
    assert (status, error) == (
        400,
        {
            "detail": "avatar: Enter an https URL.",
            "error": "avatar: Enter an https URL.",
            "code": "validation_error",
            "errors": {"avatar": ["Enter an https URL."]},
        },
    )
    assert bob.api.get(f"/api/auth/users/{alice.username}/")[1]["profile"] == profile

    # alice and carol share two friends, bob and dave; frank has asked alice; erin is nobody's.
    for a, b in ((alice, bob), (alice, dave), (carol, bob), (carol, dave)):
        await befriend(a, b)
    assert (await frank.api.apost(f"/api/friends/request/{alice.id}/"))[0] == 201

    status, suggestions = carol.api.get("/api/friends/suggestions/")
    assert status == 200, suggestions
    assert suggestions[0] == {
        "id": alice.id,
        "username": alice.username,
        "first_name": "Alice",
        "last_name": "",
        "profile_picture": "https://img.example.com/alice.png",
        "mutual_friends_count": 2,
    }
    # Then the others, newest account first, none a friend of carol's.
    assert [(s["id"], s["mutual_friends_count"]) for s in suggestions[1:]] == [
        (frank.id, 0),
        (erin.id, 0),
    ]

    status, suggestions = alice.api.get("/api/friends/suggestions/?limit=1")
    assert (status, suggestions) == (
        200,
        [{**carol.summary, "profile_picture": None, "mutual_friends_count": 2}],
    )
    status, error = alice.api.get("/api/friends/suggestions/?limit=-1")
    assert (status, error) == (
        400,
        {
            "detail": "limit: Must be a positive integer.",
            "error": "limit: Must be a positive integer.",
            "code": "validation_error",
            "errors": {"limit": ["Must be a positive integer."]},
        },
    )
