"""Real headless Chromium on the demo page: launching it, and a person's view of the page."""

from __future__ import annotations

import base64
import json
import statistics
import time
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, expect

from tests.e2e.servers import DaphneServer, Person

# Debian's chromium package: CI installs it (.ci/run); Playwright's own browser downloads are
# not reachable from here, so `playwright install` is never used.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous: two cores shared with other suites. Assertions stay exact; only waits are long.
WAIT_MS = 20_000
expect.set_options(timeout=WAIT_MS)

# Avatars are https URLs on other hosts; the tests answer them from here (no network).
AVATAR_HOST = "https://avatars.example"
AVATAR_SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="#ff8a5c"/><stop offset="1" stop-color="#c04cfd"/>
</linearGradient></defs><rect width="64" height="64" fill="url(#g)"/>
<circle cx="32" cy="25" r="12" fill="#fff" opacity=".9"/>
<path d="M10 62c3-14 12-21 22-21s19 7 22 21z" fill="#fff" opacity=".9"/></svg>"""

# Records, in the page, when each thing first showed up: "<what>|<text>" -> Date.now().
# Installed before the demo's script runs, so nothing can appear unobserved.
WATCH_SCRIPT = """
(() => {
  window.__seenAt = {};
  const watched = {
    message: "#messages li .text",
    request: "#requests li .name",
    badge: "#unread-badge:not([hidden])",
    toast: ".toast",
  };
  const look = () => {
    const now = Date.now();
    for (const [what, selector] of Object.entries(watched)) {
      for (const node of document.querySelectorAll(selector)) {
        const key = `${what}|${node.textContent}`;
        if (!(key in window.__seenAt)) window.__seenAt[key] = now;
      }
    }
  };
  new MutationObserver(look).observe(document, {
    childList: true, subtree: true, characterData: true, attributes: true,
  });
  // When the person last clicked or submitted: the start of a push-to-screen measurement.
  const mark = () => { window.__actionAt = Date.now(); };
  document.addEventListener("click", mark, true);
  document.addEventListener("submit", mark, true);
})();
"""


def launch_chromium(playwright: Playwright) -> Browser:
    # A failure, not a skip: these tests are the proof that the page works in a real browser.
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)"
    )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


class DemoPage:
    """One person's browser (a context of its own) on the demo page of `server`."""

    def __init__(
        self,
        browser: Browser,
        server: DaphneServer,
        name: str,
        *,
        tab_of: DemoPage | None = None,
    ) -> None:
        """A new browser context, or with `tab_of` another tab in that page's context."""
        self.name = name
        self.server = server
        self.owns_context = tab_of is None
        if tab_of is None:
            # Dates on the page follow the browser's locale and time zone: fixed here.
            self.context: BrowserContext = browser.new_context(
                viewport={"width": 900, "height": 620}, locale="en-US", timezone_id="UTC"
            )
            self.context.set_default_timeout(WAIT_MS)
            self.context.add_init_script(WATCH_SCRIPT)
            self.context.route(f"{AVATAR_HOST}/**", _answer_avatar)
        else:
            self.context = tab_of.context
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.api_calls: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        # Chromium reports what the Content-Security-Policy blocked on the console.
        self.page.on("console", self._record_policy_violation)
        self.page.on("request", self._record_request)
        self.page.goto(f"{server.http_url}/")

    def _record_policy_violation(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.errors.append(message.text)

    def _record_request(self, request) -> None:
        path = request.url.removeprefix(self.server.http_url)
        if path.startswith("/api/"):
            self.api_calls.append(f"{request.method} {path}")

    def close(self) -> None:
        if self.owns_context:
            self.context.close()
        elif not self.page.is_closed():
            self.page.close()

    # --- logging in -------------------------------------------------------------------------

    def sign_up(self, username: str) -> None:
        self.page.click("[data-tab=signup]")
        form = self.page.locator("#signup-form")
        form.locator("[name=username]").fill(username)
        form.locator("[name=email]").fill(f"{username}@example.com")
        form.locator("[name=password]").fill(f"{username}-long-password-7")
        form.locator("button[type=submit]").click()
        self.wait_connected()
        self.wait_loaded()

    def log_in(self, person: Person) -> None:
        form = self.page.locator("#login-form")
        form.locator("[name=login]").fill(person.username)
        form.locator("[name=password]").fill(f"{person.username}-long-password-7")
        form.locator("button[type=submit]").click()
        self.wait_connected()
        self.wait_loaded()

    def wait_loaded(self) -> None:
        """Waits until the page's state is loaded: the socket's first "reload" included, which
        comes with "connected"."""
        self.page.wait_for_selector('#app-view[aria-busy="false"]', state="attached")
        self.settle()

    def wait_connected(self, timeout: float = WAIT_MS) -> None:
        self.wait_status("connected", timeout)

    def wait_status(self, status: str, timeout: float = WAIT_MS) -> None:
        self.page.wait_for_selector(f'#connection[data-status="{status}"]', timeout=timeout)

    def status(self) -> str:
        return self.page.get_attribute("#connection", "data-status")

    def settle(self) -> None:
        """Waits until the page has no request in flight (the socket does not count)."""
        self.page.wait_for_load_state("networkidle")

    # --- doing things -----------------------------------------------------------------------

    def request_friendship(self, username: str) -> None:
        self.page.fill("#search-input", username)
        self.page.click(f'#search-results li[data-username="{username}"] button')
        self.page.wait_for_selector(f'#sent-requests li[data-username="{username}"]')

    def accept_request_from(self, username: str) -> None:
        self.page.click(f'#requests li[data-username="{username}"] button.primary')
        self.page.wait_for_selector(f'#friends li[data-username="{username}"]')

    def cancel_request_to(self, username: str) -> None:
        self.page.click(f'#sent-requests li[data-username="{username}"] button')

    def decline_request_from(self, username: str) -> None:
        self.page.click(f'#requests li[data-username="{username}"] button.quiet')

    def open_own_profile(self, username: str) -> None:
        self.page.click("#me")
        self.wait_profile(username)

    def open_profile_from_search(self, username: str) -> None:
        self.page.fill("#search-input", username)
        self.page.click(f'#search-results li[data-username="{username}"] a.name')
        self.wait_profile(username)

    def wait_profile(self, username: str) -> None:
        """Waits until the main pane shows `username`'s profile as the server gave it."""
        expect(self.page.locator("#profile-handle")).to_have_text(f"@{username}")
        self.page.wait_for_selector(
            "#profile-view:not([hidden]) #profile-status[hidden]", state="attached"
        )
        self.settle()

    def profile_action(self, label: str) -> None:
        self.page.locator("#profile-actions button", has_text=label).click()

    def edit_profile(self, **fields: str) -> None:
        """Opens the form unless it is open, fills `fields` (by input name) and saves."""
        form = self.page.locator("#profile-form")
        if form.is_hidden():
            self.profile_action("Edit profile")
        for name, value in fields.items():
            form.locator(f"[name={name}]").fill(value)
        submit = form.locator("button[type=submit]")
        with self.page.expect_response(
            lambda r: r.url.endswith("/api/auth/profile/") and r.request.method == "PATCH"
        ):
            submit.click()
        # Disabled from the click until the answer has been shown.
        expect(submit).to_be_enabled()

    def open_chat(self, username: str) -> None:
        self.page.click(f'#friends li[data-username="{username}"]')
        self.page.wait_for_selector("#composer:not([hidden])")
        self.settle()

    def send(self, text: str) -> None:
        self.page.fill("#message-input", text)
        self.page.press("#message-input", "Enter")
        self.page.locator("#messages li.mine .text", has_text=text).wait_for()

    # --- what the person sees ---------------------------------------------------------------

    def messages(self) -> list[str]:
        return self.page.locator("#messages li .text").all_text_contents()

    def message_ids(self) -> list[int]:
        ids = self.page.eval_on_selector_all("#messages li", "ls => ls.map(l => l.dataset.id)")
        return [int(i) for i in ids]

    def badge(self) -> str | None:
        """The unread badge's number, or None while it is hidden."""
        badge = self.page.locator("#unread-badge")
        return badge.text_content() if badge.is_visible() else None

    def profile(self) -> dict[str, object]:
        """What the profile pane shows, as text (and the avatar's and website's URLs)."""
        return self.page.evaluate(
            """() => {
              const text = (s) => document.querySelector(s).textContent;
              const img = document.querySelector("#profile-avatar img");
              const link = document.querySelector("#profile-website a");
              return {
                name: text("#profile-name"),
                handle: text("#profile-handle"),
                bio: text("#profile-bio"),
                location: text("#profile-location"),
                website: text("#profile-website"),
                website_href: link && link.href,
                joined: text("#profile-joined"),
                avatar: img && img.complete && img.naturalWidth > 0 ? img.src : null,
                actions: [...document.querySelectorAll("#profile-actions > *")]
                  .map((n) => n.textContent),
              };
            }"""
        )

    def field_errors(self) -> dict[str, str]:
        """The profile form's visible error texts, by field ("" for the form's own line)."""
        return self.page.evaluate(
            """() => {
              const shown = {};
              for (const slot of document.querySelectorAll(
                "#profile-form [data-error-for]:not([hidden])"
              )) shown[slot.dataset.errorFor] = slot.textContent;
              const general = document.querySelector("#profile-form-error");
              if (!general.hidden) shown[""] = general.textContent;
              return shown;
            }"""
        )

    def suggestions(self) -> list[tuple[str, str]]:
        """(name, mutual friends text) of each suggestion, in the order shown."""
        rows = self.page.locator("#suggestions li")
        return [
            (row.locator(".name").text_content(), row.locator(".detail").text_content())
            for row in rows.all()
        ]

    def names_in(self, list_id: str) -> list[str]:
        return self.page.locator(f"#{list_id} li .name").all_text_contents()

    def toasts(self) -> list[str]:
        return self.page.locator(".toast").all_text_contents()

    def action_at(self) -> int:
        return self.page.evaluate("window.__actionAt")

    def seen_at(self, what: str, text: str, timeout: float = WAIT_MS) -> int:
        """When `text` first showed up as `what` (message, request, badge, toast): Date.now()."""
        key = f"{what}|{text}"
        handle = self.page.wait_for_function(
            "key => window.__seenAt[key]", arg=key, timeout=timeout
        )
        return handle.json_value()

    def push_state(self, state: str) -> str:
        """Waits until the Notifications panel is in `state`; returns what it says."""
        self.page.wait_for_selector(f'#push[data-state="{state}"]', state="attached")
        return self.page.text_content("#push [data-push-status]")

    def service_worker(self) -> dict[str, str]:
        """The scope and script URL of the service worker that controls this page's scope."""
        return self.page.evaluate(
            """() => navigator.serviceWorker.ready.then((r) => ({
              scope: r.scope, script: r.active.scriptURL,
            }))"""
        )

    def notifications(self, count: int) -> list[dict]:
        """The system notifications the service worker shows, once there are `count`."""
        script = """() => navigator.serviceWorker.ready
          .then((r) => r.getNotifications())
          .then((shown) => shown.map((n) => ({
            title: n.title, body: n.body, tag: n.tag, data: n.data, icon: n.icon,
          })))"""
        deadline = time.monotonic() + WAIT_MS / 1000
        while len(shown := self.page.evaluate(script)) != count:
            assert time.monotonic() < deadline, f"{len(shown)} notifications, not {count}: {shown}"
            self.page.wait_for_timeout(50)
        return shown

    def mark_document(self) -> None:
        self.page.evaluate("window.__sameDocument = true")

    def same_document(self) -> bool:
        """True while the page has not been reloaded since mark_document()."""
        return self.page.evaluate("window.__sameDocument === true")


class ServiceWorkerPushes:
    """Pushes delivered to the page's service worker through the DevTools protocol, as the
    browser's push service would deliver them: that service is outside the project (and
    headless Chromium has none)."""

    def __init__(self, demo: DemoPage) -> None:
        self.origin = demo.server.http_url
        self.page = demo.page
        self.registrations: dict[str, str] = {}  # scope URL -> registration id
        self.cdp = demo.context.new_cdp_session(demo.page)
        self.cdp.on("ServiceWorker.workerRegistrationUpdated", self._registrations_updated)
        self.cdp.send("ServiceWorker.enable")

    def _registrations_updated(self, event: dict) -> None:
        for registration in event["registrations"]:
            if registration["isDeleted"]:
                self.registrations.pop(registration["scopeURL"], None)
            else:
                self.registrations[registration["scopeURL"]] = registration["registrationId"]

    def deliver(self, payload: dict, scope: str = "/") -> None:
        """`payload` as JSON, the way the push worker encodes it before encrypting it."""
        deadline = time.monotonic() + WAIT_MS / 1000
        while self.origin + scope not in self.registrations:
            assert time.monotonic() < deadline, f"no registration for {scope}: {self.registrations}"
            self.page.wait_for_timeout(50)  # lets Playwright dispatch the protocol's events
        self.cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": self.origin,
                "registrationId": self.registrations[self.origin + scope],
                "data": json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            },
        )


def _answer_avatar(route: Route) -> None:
    route.fulfill(status=200, content_type="image/svg+xml", body=AVATAR_SVG)


def latency_summary(samples_ms: list[int]) -> str:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"n={len(ordered)} median {statistics.median(ordered):.0f} ms, "
        f"p95 {p95} ms, min {ordered[0]} ms, max {ordered[-1]} ms"
    )


def save_side_by_side(browser: Browser, pages: list[DemoPage], path: Path) -> None:
    """One PNG of the pages next to each other, composed by the browser itself."""
    shots = [base64.b64encode(p.page.screenshot()).decode() for p in pages]
    images = "".join(
        f'<figure><figcaption>{p.name}</figcaption><img src="data:image/png;base64,{shot}">'
        "</figure>"
        for p, shot in zip(pages, shots, strict=True)
    )
    context = browser.new_context(viewport={"width": 900 * len(pages) + 12, "height": 660})
    page = context.new_page()
    page.set_content(
        "<style>body{margin:0;display:flex;gap:12px;background:#05070d;font:13px sans-serif}"
        "figure{margin:0}figcaption{color:#8d97b3;padding:6px 10px;height:28px}"
        "img{display:block}</style>" + images
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    context.close()
