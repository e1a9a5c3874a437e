"""The demo page in real headless Chromium, two people side by side, against real Daphne and
Redis: everything the other one does shows up by itself, through cuts and restarts."""

from __future__ import annotations

import base64
import os
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.db import connection
from playwright.sync_api import expect, sync_playwright

from notifications import pushsend
from notifications.models import Notification, PushSubscription
from notifications.selectors import unread_count
from tests.e2e.browser_helpers import (
    AVATAR_HOST,
    DemoPage,
    ServiceWorkerPushes,
    latency_summary,
    launch_chromium,
    save_side_by_side,
)
from tests.e2e.servers import Api, DaphneServer, Person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The bar for "live": an event shows up in the other browser within a second.
LIVE_WITHIN_MS = 1000


@pytest.fixture
def browser():
    # Per test, not per module: sync Playwright keeps an event loop running in this thread, and
    # pytest-django's flush after each test refuses to touch the database while one runs.
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def open_demo(browser):
    """Opens the demo for one person in a browser context of their own."""
    opened: list[DemoPage] = []

    def open_page(server: DaphneServer, name: str, *, tab_of: DemoPage | None = None) -> DemoPage:
        page = DemoPage(browser, server, name, tab_of=tab_of)
        opened.append(page)
        return page

    yield open_page
    for page in reversed(opened):  # a tab before the context it shares
        assert page.errors == [], f"{page.name}'s page threw: {page.errors}"
        page.close()


@pytest.fixture
def own_server(server_env, tmp_path):
    """A Daphne of this test's own, to stop and start again."""
    started: list[DaphneServer] = []

    def start(name: str) -> DaphneServer:
        server = DaphneServer(name, server_env, tmp_path).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(signal.SIGKILL)


def befriend(a: Person, b: Person) -> None:
    status, sent = a.api.post(f"/api/friends/request/{b.id}/")
    assert status == 201, sent
    status, accepted = b.api.post(f"/api/friends/accept/{sent['request']['id']}/")
    assert status == 201, accepted


def friends_chatting(server: DaphneServer, open_demo) -> tuple[Person, Person, DemoPage, DemoPage]:
    """alice and bob, friends, each logged in to a page of the demo with the other's chat open."""
    alice_person, bob_person = Person(server, "alice"), Person(server, "bob")
    befriend(alice_person, bob_person)
    alice, bob = open_demo(server, "alice"), open_demo(server, "bob")
    alice.log_in(alice_person)
    bob.log_in(bob_person)
    alice.open_chat("bob")
    bob.open_chat("alice")
    return alice_person, bob_person, alice, bob


def wait_until(condition, timeout: float = 20.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def test_the_page_and_the_client_module_are_served(server_a):
    def get(path: str) -> tuple[int, str, str]:
        with urllib.request.urlopen(server_a.http_url + path, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()

    status, content_type, page = get("/")
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    assert '<script type="module" src="/static/web/demo.js">' in page
    assert '<link rel="stylesheet" href="/static/web/demo.css">' in page
    for path in ("/static/numeneon-realtime.js", "/static/web/demo.js"):
        status, content_type, _ = get(path)
        # Browsers refuse to run a module served with a non-JavaScript type.
        assert status == 200 and content_type.startswith("text/javascript"), (path, content_type)
    assert "export function createRealtime" in get("/static/numeneon-realtime.js")[2]
    # The push service worker from the root (its scope must cover "/"), never a stale copy.
    with urllib.request.urlopen(server_a.http_url + "/push-sw.js", timeout=10) as response:
        assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-cache"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert 'addEventListener("push"' in response.read().decode()


def test_a_request_an_acceptance_and_a_chat_show_up_in_the_other_browser_without_a_reload(
    server_a, open_demo
):
    alice, bob = open_demo(server_a, "alice"), open_demo(server_a, "bob")
    alice.sign_up("alice")
    bob.sign_up("bob")
    for person in (alice, bob):
        person.mark_document()
    assert alice.badge() is None
    alice.api_calls.clear()

    # bob asks alice: her request list and her badge update by themselves.
    bob.request_friendship("alice")
    clicked = bob.action_at()
    request_ms = alice.seen_at("request", "bob") - clicked
    badge_ms = alice.seen_at("badge", "1") - clicked
    assert alice.page.locator("#requests li .name").all_text_contents() == ["bob"]
    assert alice.page.text_content("#requests-count") == "1"
    assert alice.badge() == "1"
    assert request_ms <= LIVE_WITHIN_MS and badge_ms <= LIVE_WITHIN_MS, (request_ms, badge_ms)

    # alice accepts: bob gets a toast, and alice is his friend.
    alice.accept_request_from("bob")
    clicked = alice.action_at()
    accepted_ms = bob.seen_at("toast", "alice accepted your friend request.") - clicked
    bob.page.wait_for_selector('#friends li[data-username="alice"]')
    assert bob.page.locator("#sent-requests li").count() == 0
    assert alice.badge() is None

    # bob writes while alice looks elsewhere: a toast, the badge, an unread count by his name.
    bob.open_chat("alice")
    bob.send("hello alice")
    first_ms = alice.seen_at("toast", "bob: hello alice") - bob.action_at()
    alice.page.wait_for_selector('#friends li[data-username="bob"] .count')
    assert alice.page.text_content('#friends li[data-username="bob"] .count') == "1"
    assert alice.badge() == "1"

    # alice opens the chat: the message is there, the badge clears, bob sees it was read.
    alice.open_chat("bob")
    alice.page.locator("#messages li.theirs .text", has_text="hello alice").wait_for()
    assert alice.badge() is None
    bob.page.locator("#messages li.mine .receipt", has_text="Seen").wait_for()

    # With the chat open, bob's next message lands in it.
    bob.send("are you there?")
    chat_ms = alice.seen_at("message", "are you there?") - bob.action_at()
    alice.send("here!")
    bob.page.locator("#messages li.theirs .text", has_text="here!").wait_for()
    assert alice.messages() == ["hello alice", "are you there?", "here!"]
    assert bob.messages() == ["hello alice", "are you there?", "here!"]

    print(
        f"\npush to screen (click in one browser -> DOM of the other): friend request "
        f"{request_ms} ms (badge {badge_ms} ms), acceptance toast {accepted_ms} ms, "
        f"message toast {first_ms} ms, message in open chat {chat_ms} ms"
    )
    # Everything came pushed: alice's page never refetched a list, and nothing polls.
    assert alice.same_document() and bob.same_document()
    refetches = [call for call in alice.api_calls if call.startswith("GET /api/friends")]
    assert refetches == [], alice.api_calls
    quiet_from = (len(alice.api_calls), len(bob.api_calls))
    alice.page.wait_for_timeout(2500)
    assert (len(alice.api_calls), len(bob.api_calls)) == quiet_from, (
        alice.api_calls[quiet_from[0] :],
        bob.api_calls[quiet_from[1] :],
    )


def test_messages_sent_while_a_browser_is_offline_appear_once_and_in_order_when_it_is_back(
    server_a, open_demo
):
    _, _, alice, bob = friends_chatting(server_a, open_demo)
    bob.send("before")
    alice.seen_at("message", "before")
    alice.mark_document()

    alice.context.set_offline(True)
    alice.wait_status("offline")
    sent = ["while you were away 1", "while you were away 2", "while you were away 3"]
    for text in sent:
        bob.send(text)
    alice.page.wait_for_timeout(1000)
    assert alice.messages() == ["before"]  # really cut off, not just slow
    calls_before = len(alice.api_calls)

    alice.context.set_offline(False)
    alice.wait_connected()
    alice.page.locator("#messages li .text", has_text=sent[-1]).wait_for()
    alice.page.wait_for_timeout(1000)  # a duplicate would arrive by now

    assert alice.messages() == ["before", *sent]
    ids = alice.message_ids()
    assert ids == sorted(set(ids))
    assert alice.same_document()
    # Replayed over the socket from last_event_id, not refetched over REST.
    assert [c for c in alice.api_calls[calls_before:] if c.startswith("GET")] == []


def test_both_pages_reconnect_by_themselves_after_the_server_restarts(
    server_a, own_server, open_demo
):
    server = own_server("restart")
    alice_person, bob_person, alice, bob = friends_chatting(server, open_demo)
    for page in (alice, bob):
        page.mark_document()

    server.stop()  # SIGTERM: every socket is closed with 1012
    for page in (alice, bob):
        wait_until(lambda page=page: page.status() != "connected")
    # Sent through the other server while this one is down: stored, then replayed on resume.
    status, _ = Api(server_a.http_url, bob_person.token).post(
        "/api/messages/", {"receiver_id": alice_person.id, "content": "during the restart"}
    )
    assert status == 201

    server.start()
    restarted = time.monotonic()
    for page in (alice, bob):
        page.wait_connected(timeout=30_000)
    reconnect_s = time.monotonic() - restarted
    alice.page.locator("#messages li .text", has_text="during the restart").wait_for()

    bob.send("after the restart")
    alice.page.locator("#messages li .text", has_text="after the restart").wait_for()
    assert alice.messages() == ["during the restart", "after the restart"]
    assert alice.same_document() and bob.same_document()
    print(f"\nserver restart: both pages live again {reconnect_s:.1f} s after it was back")


def test_push_to_screen_latency_of_chat_messages(server_a, open_demo):
    _, _, alice, bob = friends_chatting(server_a, open_demo)

    samples = []
    for n in range(20):
        text = f"ping {n}"
        bob.send(text)
        samples.append(alice.seen_at("message", text) - bob.action_at())
    print(f"\npush to screen, Enter in bob's page -> alice's DOM: {latency_summary(samples)}")
    assert alice.messages() == [f"ping {n}" for n in range(20)]
    assert sorted(samples)[len(samples) // 2] <= LIVE_WITHIN_MS, samples


# --- profiles, suggestions and the events that keep friend lists right ----------------------


def joined_text(iso: str) -> str:
    """date_joined as the page shows it in an en-US, UTC browser: "December 7, 2026"."""
    joined = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    return f"{joined:%B} {joined.day}, {joined.year}"


def test_a_profile_edit_shows_its_errors_per_field_then_on_the_other_persons_view_of_it(
    server_a, open_demo, browser
):
    alice_person, bob_person = Person(server_a, "alice"), Person(server_a, "bob")
    charlie = Person(server_a, "charlie")
    befriend(charlie, alice_person)
    befriend(charlie, bob_person)
    alice, bob = open_demo(server_a, "alice"), open_demo(server_a, "bob")
    alice.log_in(alice_person)
    bob.log_in(bob_person)
    for page in (alice, bob):
        page.mark_document()
    assert bob.suggestions() == [("alice", "1 mutual friend")]
    status, me = alice_person.api.get("/api/auth/me/")
    assert status == 200, me
    joined = joined_text(me["date_joined"])

    # bob looks at alice before she has written anything.
    bob.open_profile_from_search("alice")
    assert bob.profile() == {
        "name": "alice",
        "handle": "@alice",
        "bio": "No bio yet.",
        "location": "—",
        "website": "—",
        "website_href": None,
        "joined": joined,
        "avatar": None,
        "actions": ["Add friend"],
    }

    # alice's own profile; an http avatar and an ftp website are refused field by field, with
    # the server's own words.
    alice.open_own_profile("alice")
    assert alice.profile()["actions"] == ["Edit profile"]
    bad = {"website": "ftp://alice.example/", "avatar": "http://avatars.example/alice.svg"}
    alice.edit_profile(**bad)
    status, refused = alice_person.api.request("PATCH", "/api/auth/profile/", bad)
    assert status == 400 and set(refused["errors"]) == {"website", "avatar"}, refused
    assert alice.field_errors() == {
        field: " ".join(texts) for field, texts in refused["errors"].items()
    }
    assert alice.page.is_visible("#profile-form")

    edits = {
        "first_name": "Alice",
        "last_name": "Liddell",
        "bio": "Stargazer. <b>Not bold</b> & proud.",
        "location": "Lisbon",
        "website": "https://alice.example/",
        "avatar": f"{AVATAR_HOST}/alice.svg",
    }
    alice.edit_profile(**edits)
    alice.page.wait_for_selector("#profile-form", state="hidden")
    alice.seen_at("toast", "Profile saved.")
    mine = {
        "name": "Alice Liddell",
        "handle": "@alice",
        "bio": edits["bio"],
        "location": "Lisbon",
        "website": "https://alice.example/",
        "website_href": "https://alice.example/",
        "joined": joined,
        "avatar": f"{AVATAR_HOST}/alice.svg",
    }
    expect(alice.page.locator("#profile-avatar img")).to_have_js_property("complete", True)
    assert alice.profile() == {**mine, "actions": ["Edit profile"]}
    assert alice.page.text_content("#me") == "Alice Liddell"
    assert alice.page.get_attribute("#me img", "src") == f"{AVATAR_HOST}/alice.svg"

    # bob opens alice's profile again: the edit is there, and her markup stays text.
    bob.page.click('#search-results li[data-username="alice"] a.name')
    expect(bob.page.locator("#profile-name")).to_have_text("Alice Liddell")
    bob.settle()
    expect(bob.page.locator("#profile-avatar img")).to_have_js_property("complete", True)
    assert bob.profile() == {**mine, "actions": ["Add friend"]}
    assert bob.page.locator("#profile-bio b").count() == 0
    # The names in bob's lists, fetched before the edit, follow the profile he just read.
    assert bob.names_in("search-results") == ["Alice Liddell"]
    assert bob.suggestions() == [("Alice Liddell", "1 mutual friend")]
    assert alice.same_document() and bob.same_document()
    if target := os.environ.get("NUMENEON_DEMO_SCREENSHOT"):
        save_side_by_side(browser, [alice, bob], Path(target))


def test_suggestions_show_a_friend_of_a_friend_with_the_mutual_count_and_add_friend_asks_them(
    server_a, open_demo
):
    alice_p, bob_p, charlie_p, dave_p, _erin_p = (
        Person(server_a, name) for name in ("alice", "bob", "charlie", "dave", "erin")
    )
    # charlie and alice have two friends in common (bob, dave); erin knows no one.
    for a, b in ((alice_p, bob_p), (alice_p, dave_p), (charlie_p, bob_p), (charlie_p, dave_p)):
        befriend(a, b)
    status, avatar = alice_p.api.request(
        "PATCH", "/api/auth/profile/", {"avatar": f"{AVATAR_HOST}/alice.svg"}
    )
    assert status == 200, avatar

    alice, charlie = open_demo(server_a, "alice"), open_demo(server_a, "charlie")
    alice.log_in(alice_p)
    charlie.log_in(charlie_p)
    for page in (alice, charlie):
        page.mark_document()
    assert charlie.suggestions() == [("alice", "2 mutual friends"), ("erin", "No mutual friends")]
    picture = charlie.page.locator('#suggestions li[data-username="alice"] img.avatar')
    assert picture.get_attribute("src") == f"{AVATAR_HOST}/alice.svg"
    assert alice.suggestions() == [("charlie", "2 mutual friends"), ("erin", "No mutual friends")]
    alice.api_calls.clear()

    # "Add friend": the suggestion goes, the request is sent, and alice sees it live.
    charlie.page.click('#suggestions li[data-username="alice"] button')
    charlie.page.wait_for_selector('#sent-requests li[data-username="alice"]')
    assert charlie.suggestions() == [("erin", "No mutual friends")]
    alice.seen_at("request", "charlie")
    assert alice.names_in("requests") == ["charlie"]
    # charlie has asked alice: he is no longer one of her suggestions either.
    assert alice.suggestions() == [("erin", "No mutual friends")]
    status, incoming = alice_p.api.get("/api/friends/requests/")
    assert [r["from_user"]["username"] for r in incoming] == ["charlie"]
    assert [c for c in alice.api_calls if c.startswith("GET /api/friends")] == []
    assert alice.same_document() and charlie.same_document()


def test_declining_cancelling_and_removing_update_the_other_persons_open_page_without_a_reload(
    server_a, open_demo
):
    alice_p, bob_p = Person(server_a, "alice"), Person(server_a, "bob")
    alice, bob = open_demo(server_a, "alice"), open_demo(server_a, "bob")
    alice.log_in(alice_p)
    bob.log_in(bob_p)
    for page in (alice, bob):
        page.mark_document()
        page.api_calls.clear()

    # alice declines: bob's sent request goes, and alice can be asked again.
    bob.request_friendship("alice")
    alice.seen_at("request", "bob")
    alice.decline_request_from("bob")
    expect(bob.page.locator("#sent-requests li")).to_have_count(0)
    expect(bob.page.locator('[data-empty-for="sent-requests"]')).to_have_text("None waiting.")
    expect(bob.page.locator('#search-results li[data-username="alice"] button')).to_have_text(
        "Add friend"
    )
    expect(alice.page.locator("#requests li")).to_have_count(0)

    # bob asks again, then cancels: alice's request list, count and badge empty by themselves.
    bob.request_friendship("alice")
    alice.page.wait_for_selector('#requests li[data-username="bob"]')
    assert alice.badge() == "1"
    bob.cancel_request_to("alice")
    expect(alice.page.locator("#requests li")).to_have_count(0)
    expect(alice.page.locator('[data-empty-for="requests"]')).to_have_text("No pending requests.")
    assert alice.page.is_hidden("#requests-count")
    assert alice.badge() is None
    expect(bob.page.locator("#sent-requests li")).to_have_count(0)

    # bob asks a third time and alice accepts: bob's toast is the event's own text.
    bob.request_friendship("alice")
    alice.page.wait_for_selector('#requests li[data-username="bob"]')
    alice.accept_request_from("bob")
    bob.page.wait_for_selector('#friends li[data-username="alice"]')
    status, events = bob_p.api.get("/api/notifications/?limit=200")
    assert status == 200, events
    accepted = [e["data"] for e in events if e["type"] == "friend_accepted"]
    assert len(accepted) == 1 and "alice" in accepted[0]["message"], accepted
    bob.seen_at("toast", accepted[0]["message"])
    expect(bob.page.locator("#sent-requests li")).to_have_count(0)

    # bob chats with alice; alice removes him from his profile: bob's list and chat follow.
    bob.open_chat("alice")
    alice.open_chat("bob")
    alice.page.click("#chat-title a.name")
    alice.wait_profile("bob")
    assert alice.profile()["actions"] == ["Message", "Remove friend"]
    alice.profile_action("Remove friend")
    expect(bob.page.locator("#friends li")).to_have_count(0)
    expect(bob.page.locator("#chat-title")).to_have_text("Pick a friend to chat with")
    assert bob.page.is_hidden("#composer")
    expect(alice.page.locator("#profile-actions button")).to_have_text(["Add friend"])
    assert alice.names_in("friends") == []

    # All of it came pushed: neither page reloaded or refetched a friend list.
    assert alice.same_document() and bob.same_document()
    for page in (alice, bob):
        assert [c for c in page.api_calls if c.startswith("GET /api/friends")] == [], (
            page.name,
            page.api_calls,
        )


def test_a_message_sent_in_one_tab_shows_once_in_the_senders_other_tab(server_a, open_demo):
    alice_p, bob_p = Person(server_a, "alice"), Person(server_a, "bob")
    befriend(alice_p, bob_p)
    tab_a = open_demo(server_a, "alice, tab A")
    tab_b = open_demo(server_a, "alice, tab B", tab_of=tab_a)
    bob = open_demo(server_a, "bob")
    for page, person in ((tab_a, alice_p), (tab_b, alice_p), (bob, bob_p)):
        page.log_in(person)
        page.mark_document()
    tab_a.open_chat("bob")
    bob.open_chat("alice")

    # Tab B has not opened the chat yet: the push waits in its state for the history.
    tab_a.send("first, from tab A")
    bob.seen_at("message", "first, from tab A")
    tab_b.open_chat("bob")
    tab_b.page.locator("#messages li.mine .text", has_text="first, from tab A").wait_for()

    # With the chat open in both tabs.
    tab_a.send("second, from tab A")
    tab_b.seen_at("message", "second, from tab A")
    tab_b.send("third, from tab B")
    tab_a.seen_at("message", "third, from tab B")
    bob.seen_at("message", "third, from tab B")
    tab_a.page.wait_for_timeout(1000)  # a duplicate would arrive by now

    sent = ["first, from tab A", "second, from tab A", "third, from tab B"]
    for page in (tab_a, tab_b, bob):
        assert page.messages() == sent, page.name
        ids = page.message_ids()
        assert ids == sorted(set(ids)) and len(ids) == 3, (page.name, ids)
    for tab in (tab_a, tab_b):
        assert tab.page.locator("#messages li.mine").count() == 3
        # bob has the chat open: every tab of alice's learns he read them.
        expect(tab.page.locator("#messages li.mine .receipt")).to_have_text([" · Seen"] * 3)
    assert tab_a.same_document() and tab_b.same_document()


# --- Web Push: the demo's "Notify me when this tab is closed" ---------------------------------

# Stands in for the browser's push service, which headless Chromium does not have: a
# subscription with keys made by the test, as PushManager.subscribe would hand one over.
FAKE_PUSH_MANAGER = """(made) => {
  let current = null;
  window.__subscribeCalls = [];
  window.__unsubscribed = 0;
  PushManager.prototype.getSubscription = async () => current;
  PushManager.prototype.subscribe = async (options) => {
    const key = new Uint8Array(options.applicationServerKey);
    window.__subscribeCalls.push({
      userVisibleOnly: options.userVisibleOnly,
      applicationServerKey: btoa(String.fromCharCode(...key)),
    });
    current = {
      endpoint: made.endpoint,
      options: { userVisibleOnly: true, applicationServerKey: key.buffer },
      toJSON: () => ({ endpoint: made.endpoint, expirationTime: null, keys: made.keys }),
      unsubscribe: async () => {
        current = null;
        window.__unsubscribed += 1;
        return true;
      },
    };
    return current;
  };
}"""


def from_db(read):
    """`read()` in a thread of its own: Playwright's event loop runs in the test's thread, where
    Django refuses to touch the database."""

    def run():
        try:
            return read()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def subscriptions() -> list[tuple[int, str, str, str]]:
    return from_db(
        lambda: list(PushSubscription.objects.values_list("user_id", "endpoint", "p256dh", "auth"))
    )


def new_message_payload(person: Person) -> dict:
    """What the push worker sends `person` for their latest new_message event."""

    def build():
        event = Notification.objects.filter(recipient_id=person.id, type="new_message").latest("id")
        return pushsend.payload(event, unread_count(user_id=person.id))

    return from_db(build)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def browser_keys() -> dict[str, str]:
    """A browser's subscription keys: a P-256 public point and a 16-byte auth secret."""
    point = ec.generate_private_key(ec.SECP256R1()).public_key()
    raw = point.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return {"p256dh": b64url(raw), "auth": b64url(os.urandom(16))}


def test_the_service_worker_covers_the_demo_and_shows_a_pushed_message_as_the_server_sends_it(
    server_a, open_demo
):
    alice_p, bob_p = Person(server_a, "alice"), Person(server_a, "bob")
    befriend(alice_p, bob_p)
    alice = open_demo(server_a, "alice")
    alice.log_in(alice_p)
    alice.push_state("off")
    assert alice.service_worker() == {
        "scope": f"{server_a.http_url}/",
        "script": f"{server_a.http_url}/push-sw.js",
    }
    alice.context.grant_permissions(["notifications"], origin=server_a.http_url)

    # A real message, and the payload the push worker would build for it.
    status, _ = bob_p.api.post("/api/messages/", {"receiver_id": alice_p.id, "content": "Tea?"})
    assert status == 201
    payload = new_message_payload(alice_p)
    pushes = ServiceWorkerPushes(alice)
    pushes.deliver(payload)
    [shown] = alice.notifications(1)
    assert shown["title"] == "New message from bob"
    assert shown["body"] == "Tea?"
    assert shown["tag"] == f"message-{bob_p.id}"
    assert shown["data"] == {"url": "/profile/bob", "type": "new_message", "id": payload["id"]}
    assert shown["icon"] == f"{server_a.http_url}/static/web/favicon.svg"

    # The next message of the conversation replaces it: one notification per conversation.
    status, _ = bob_p.api.post("/api/messages/", {"receiver_id": alice_p.id, "content": "Now?"})
    assert status == 201
    pushes.deliver(new_message_payload(alice_p))
    wait_until(lambda: [n["body"] for n in alice.notifications(1)] == ["Now?"])

    # A click with a demo tab open: the service worker tells it, and it shows the profile.
    [worker] = alice.context.service_workers
    worker.evaluate(
        """() => clients.matchAll({ type: "window" }).then((tabs) => tabs.forEach((tab) =>
          tab.postMessage({ type: "notification-click", url: "/profile/bob" })))"""
    )
    alice.wait_profile("bob")
    alice.page.click("#friends li[data-username='bob']")  # back to the chat
    expect(alice.page.locator("#profile-view")).to_be_hidden()

    # A click with no tab open opens "/#<url>": the demo shows what the notification was about.
    alice.page.goto("about:blank")  # a page load, as in a new window (the session is kept)
    alice.page.goto(f"{server_a.http_url}/#/profile/bob")
    alice.wait_profile("bob")
    assert alice.page.evaluate("location.hash") == ""


def test_turning_push_on_stores_this_browsers_subscription_and_turning_it_off_deletes_it(
    server_a, open_demo
):
    alice_p = Person(server_a, "alice")
    alice = open_demo(server_a, "alice")
    alice.log_in(alice_p)
    assert alice.push_state("off") == (
        "Get a system notification of messages and friend requests while no tab is open."
    )
    toggle = alice.page.locator("#push-toggle")
    expect(toggle).to_have_text("Notify me when this tab is closed")

    # Headless Chromium answers the permission prompt "no".
    toggle.click()
    assert alice.push_state("denied").startswith("Notifications are blocked for this site.")

    # Allowed, the real PushManager.subscribe fails: headless Chromium has no push service.
    alice.context.grant_permissions(["notifications"], origin=server_a.http_url)
    toggle.click()
    assert alice.push_state("error").startswith("The browser's push service refused: ")
    expect(toggle).to_have_text("Notify me when this tab is closed")
    assert subscriptions() == []

    # With a subscription handed over as a push service would: the server stores it.
    endpoint = f"https://push.example/send/{b64url(os.urandom(12))}"
    made = {"endpoint": endpoint, "keys": browser_keys()}
    alice.page.evaluate(FAKE_PUSH_MANAGER, made)
    toggle.click()
    alice.push_state("on")
    expect(toggle).to_have_text("Turn off")
    status, key = alice_p.api.get("/api/notifications/vapid-public-key/")
    assert status == 200
    assert alice.page.evaluate("window.__subscribeCalls") == [
        {
            "userVisibleOnly": True,
            "applicationServerKey": base64.b64encode(
                base64.urlsafe_b64decode(key["vapid_public_key"] + "==")
            ).decode(),
        }
    ]
    keys = made["keys"]
    assert subscriptions() == [(alice_p.id, endpoint, keys["p256dh"], keys["auth"])]

    # Turned off: gone from the server and from the browser.
    toggle.click()
    alice.push_state("off")
    assert subscriptions() == []
    assert alice.page.evaluate("window.__unsubscribed") == 1

    # On again, then logging out stops it too.
    toggle.click()
    alice.push_state("on")
    assert [row[0] for row in subscriptions()] == [alice_p.id]
    alice.page.click("#logout")
    wait_until(lambda: subscriptions() == [])
    assert alice.page.evaluate("window.__unsubscribed") == 2


def test_logging_out_when_the_server_cannot_be_told_still_unsubscribes_the_browser(
    server_a, open_demo
):
    alice_p = Person(server_a, "alice")
    alice = open_demo(server_a, "alice")
    alice.log_in(alice_p)
    alice.context.grant_permissions(["notifications"], origin=server_a.http_url)
    endpoint = f"https://push.example/send/{b64url(os.urandom(12))}"
    alice.page.evaluate(FAKE_PUSH_MANAGER, {"endpoint": endpoint, "keys": browser_keys()})
    alice.page.click("#push-toggle")
    alice.push_state("on")

    # The unsubscribe never reaches the server (the network failed): the browser's own
    # subscription still goes, so that the push service refuses the next push (404/410) and the
    # worker forgets it; no one's notifications reach a browser no one is logged in to.
    alice.page.route("**/api/notifications/unsubscribe/", lambda route: route.abort())
    alice.page.click("#logout")
    wait_until(lambda: alice.page.evaluate("window.__unsubscribed") == 1)
    assert [row[:2] for row in subscriptions()] == [(alice_p.id, endpoint)]
    assert alice.page.evaluate("localStorage.getItem('numeneon.demo.push-owner')") is None


def test_without_vapid_keys_on_the_server_the_page_says_push_is_not_set_up(servers, open_demo):
    server = servers("no-push", VAPID_PUBLIC_KEY="", VAPID_PRIVATE_KEY="")
    alice_p = Person(server, "alice")
    alice = open_demo(server, "alice")
    alice.log_in(alice_p)
    assert alice.push_state("unavailable") == "Push notifications are not set up on this server."
    assert alice.page.is_hidden("#push-toggle")
    assert alice.page.evaluate("navigator.serviceWorker.getRegistration()") is None
