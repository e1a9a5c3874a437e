"""End to end: login sessions as the NUMENEON web app lives them, over a real Daphne.

The web app keeps the refresh token it got at login for the whole session and stores only
`access` from each refresh (its axios interceptor refreshes on a 401 and retries once)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.servers import Api, DaphneServer, Person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REFRESH = "/api/auth/token/refresh/"
# Seconds: the servers below are started with it. A token's `exp` is whole seconds, so one
# made at x.9 s lives only 0.1 s with a lifetime of 1: 2 leaves a retry at least a second.
ACCESS_LIFETIME = 2.0


def login(server: DaphneServer, person: Person) -> dict:
    password = f"{person.username}-long-password-7"  # as Person signed up
    status, body = Api(server.http_url).post(
        "/api/auth/login/", {"email": f"{person.username}@example.com", "password": password}
    )
    assert status == 200, body
    return body


class WebApp:
    """One browser's session, refreshing the way the web app does."""

    def __init__(self, server: DaphneServer, person: Person) -> None:
        self.server = server
        tokens = login(server, person)
        self.access, self.refresh = tokens["access"], tokens["refresh"]
        self.refreshes = 0
        self.sent_to_login = False

    def request(self, method: str, path: str, body: dict | None = None):
        status, answer = Api(self.server.http_url, self.access).request(method, path, body)
        if status != 401:
            return status, answer
        refreshed_status, refreshed = Api(self.server.http_url).post(
            REFRESH, {"refresh": self.refresh}
        )
        if refreshed_status != 200:
            self.sent_to_login = True  # what the web app does when a refresh fails
            return refreshed_status, refreshed
        self.refreshes += 1
        self.access = refreshed["access"]  # the web app stores nothing else from a refresh
        return Api(self.server.http_url, self.access).request(method, path, body)

    def get(self, path: str):
        return self.request("GET", path)

    def logout(self) -> int:
        status, _ = self.request("POST", "/api/auth/logout/", {"refresh": self.refresh})
        return status


def test_the_web_app_stays_logged_in_past_many_access_lifetimes_until_it_logs_out(servers):
    server = servers("short-access", ACCESS_TOKEN_LIFETIME_SECONDS=str(int(ACCESS_LIFETIME)))
    alice = Person(server, "alice")
    laptop, phone = WebApp(server, alice), WebApp(server, alice)

    deadline = time.monotonic() + 4.5 * ACCESS_LIFETIME
    while time.monotonic() < deadline:
        status, me = laptop.get("/api/auth/me/")
        assert status == 200, me
        assert me["id"] == alice.id
        time.sleep(ACCESS_LIFETIME / 4)
    assert not laptop.sent_to_login
    assert laptop.refreshes >= 3  # one refresh token, reused past three access lifetimes

    assert laptop.logout() == 205
    status, body = Api(server.http_url).post(REFRESH, {"refresh": laptop.refresh})
    assert (status, body["code"]) == (401, "token_not_valid")
    time.sleep(ACCESS_LIFETIME + 0.2)  # the laptop's last access token expires on its own
    status, _ = laptop.get("/api/auth/me/")
    assert status == 401 and laptop.sent_to_login

    # The phone's session never noticed: it refreshes and reads as before.
    status, me = phone.get("/api/auth/me/")
    assert status == 200 and me["id"] == alice.id
    assert phone.refreshes == 1 and not phone.sent_to_login


def test_strict_rotation_refuses_used_tokens_and_logout_ends_the_rotated_ones_too(servers):
    server = servers("strict-rotation", STRICT_REFRESH_ROTATION="1")
    bob = Person(server, "bob")
    api = Api(server.http_url)
    session, other = login(server, bob), login(server, bob)

    chain = [session["refresh"]]
    for _ in range(2):
        status, body = api.post(REFRESH, {"refresh": chain[-1]})
        assert status == 200, body
        assert body["refresh"] not in chain
        chain.append(body["refresh"])
        status, body = api.post(REFRESH, {"refresh": chain[-2]})  # used once already
        assert (status, body["code"]) == (401, "token_not_valid")

    status, _ = Api(server.http_url, session["access"]).post(
        "/api/auth/logout/", {"refresh": chain[-1]}
    )
    assert status == 205
    for token in chain:
        status, body = api.post(REFRESH, {"refresh": token})
        assert (status, body["code"]) == (401, "token_not_valid")
    status, body = api.post(REFRESH, {"refresh": other["refresh"]})
    assert status == 200 and body["refresh"] != other["refresh"]


@pytest.mark.parametrize("strict", [False, True])
def test_no_refresh_token_of_a_session_works_after_its_logout_however_they_interleave(
    servers, strict
):
    server = servers("strict-rotation", STRICT_REFRESH_ROTATION="1") if strict else servers("a")
    carol = Person(server, "carol")
    api = Api(server.http_url)
    session = login(server, carol)
    tokens, stop = {session["refresh"]}, threading.Event()

    def refresh_in_a_loop(token: str) -> None:
        # Each thread follows its own chain, as several tabs of one browser would.
        while not stop.is_set():
            status, body = api.post(REFRESH, {"refresh": token})
            if status != 200:
                return
            tokens.add(body["refresh"])
            token = body["refresh"]

    with ThreadPoolExecutor(4) as pool:
        try:
            for _ in range(4):
                pool.submit(refresh_in_a_loop, session["refresh"])
            time.sleep(0.3)
            # With strict rotation the token given was replaced long ago: it still logs out.
            status, _ = Api(server.http_url, session["access"]).post(
                "/api/auth/logout/", {"refresh": session["refresh"]}
            )
            assert status == 205
            time.sleep(0.3)  # refreshes in flight at the logout come back
        finally:
            stop.set()
    assert len(tokens) > 1 or not strict
    for token in tokens:
        status, body = api.post(REFRESH, {"refresh": token})
        assert (status, body["code"]) == (401, "token_not_valid")


def test_with_strict_rotation_one_token_refreshed_at_once_works_only_once(servers):
    server = servers("strict-rotation", STRICT_REFRESH_ROTATION="1")
    erin = Person(server, "erin")
    api = Api(server.http_url)
    for _ in range(3):  # a few rounds: each a burst of eight at the same instant
        token, barrier = login(server, erin)["refresh"], threading.Barrier(8)
        with ThreadPoolExecutor(8) as pool:
            statuses = sorted(pool.map(refresh_together, [(api, token, barrier)] * 8))
        assert statuses == [200] + [401] * 7


def refresh_together(call: tuple) -> int:
    api, token, barrier = call
    barrier.wait()
    return api.post(REFRESH, {"refresh": token})[0]
