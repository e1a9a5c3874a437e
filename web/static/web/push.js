// "Notify me when this tab is closed": the demo's service worker (/push-sw.js) and this
// browser's Web Push subscription, stored on the server for the person logged in (the calls:
// docs/CONTRACT.md, "Web Push"). A browser profile holds one subscription, so it belongs to
// whoever turned it on last there; localStorage remembers who that was.

const WORKER_URL = "/push-sw.js";
const OWNER_KEY = "numeneon.demo.push-owner";
const TURN_ON = "Notify me when this tab is closed";

// What each state says; `button` is the label, or null for no button.
const STATES = {
  checking: { text: "Checking what this browser allows…", button: null },
  insecure: { text: "Push needs a secure page: HTTPS, or http://localhost.", button: null },
  unsupported: { text: "This browser cannot receive push notifications.", button: null },
  unavailable: { text: "Push notifications are not set up on this server.", button: null },
  off: {
    text: "Get a system notification of messages and friend requests while no tab is open.",
    button: TURN_ON,
  },
  denied: {
    text:
      "Notifications are blocked for this site. " +
      "Allow them in the browser's site settings, then try again.",
    button: TURN_ON,
  },
  dismissed: { text: "Notifications were not allowed.", button: TURN_ON },
  working: { text: "One moment…", button: null },
  on: {
    text: "On: this browser is notified while no tab of this site is open.",
    button: "Turn off",
  },
  error: { text: "", button: null },
};

/** base64url (the server's key) to bytes, as `applicationServerKey` takes it. */
function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64 + "=".repeat(-base64.length & 3)), (c) => c.charCodeAt(0));
}

/** Whether `subscription` was made with `key`: one made with a key the server no longer has
 * can never be pushed to. */
function madeWith(subscription, key) {
  const used = subscription.options?.applicationServerKey;
  if (!used) return true; // not told: assume it is
  const a = new Uint8Array(used);
  const b = keyBytes(key);
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

const reason = (error) =>
  (error?.name && error.name !== "Error" ? `${error.name}: ` : "") + error?.message;

export class PushControl {
  /** `root` holds a [data-push-status] line and a button; `api(method, path, body)` is the
   * demo's authenticated fetch, which throws errors with `status` and `body.code`. */
  constructor(root, api) {
    this.root = root;
    this.api = api;
    this.status = root.querySelector("[data-push-status]");
    this.button = root.querySelector("button");
    this.button.addEventListener("click", () => (this.on ? this.turnOff() : this.turnOn()));
    this.on = false;
    this.userId = null;
    this.key = null;
    this.registration = null;
    this.show("checking");
  }

  show(state, text = STATES[state].text) {
    if (state !== "error" && state !== "working") this.on = state === "on";
    this.root.dataset.state = state;
    this.status.textContent = text;
    // An error keeps the button of what is true: on or off.
    const label = STATES[state === "error" ? (this.on ? "on" : "off") : state].button;
    this.button.hidden = label === null;
    if (label) this.button.textContent = label;
  }

  /** After logging in: what this browser and the server allow, and whether it is on already. */
  async start(userId) {
    this.userId = userId;
    if (!window.isSecureContext) return this.show("insecure");
    const supported =
      "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
    if (!supported) return this.show("unsupported");
    this.show("checking");
    try {
      this.key = await this.serverKey();
      if (!this.key) return this.show("unavailable");
      this.registration = await navigator.serviceWorker.register(WORKER_URL);
      const subscription = await this.registration.pushManager.getSubscription();
      const mine =
        subscription &&
        madeWith(subscription, this.key) &&
        Notification.permission === "granted" &&
        localStorage.getItem(OWNER_KEY) === String(userId);
      this.show(mine ? "on" : Notification.permission === "denied" ? "denied" : "off");
    } catch (error) {
      this.show("error", `Push notifications are not available: ${reason(error)}`);
    }
  }

  /** The server's VAPID public key, or null when push is not set up there. */
  async serverKey() {
    try {
      return (await this.api("GET", "/api/notifications/vapid-public-key/")).vapid_public_key;
    } catch (error) {
      if (error.status === 503 && error.body?.code === "push_not_configured") return null;
      throw error;
    }
  }

  async turnOn() {
    // After a failed check (the server did not answer): the click checks again.
    if (!this.registration) return this.start(this.userId);
    this.show("working", "Asking for permission…");
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      return this.show(permission === "denied" ? "denied" : "dismissed");
    }
    this.show("working", "Turning on…");
    let subscription;
    try {
      const registration = await navigator.serviceWorker.ready;
      subscription = await registration.pushManager.getSubscription();
      if (subscription && !madeWith(subscription, this.key)) {
        await subscription.unsubscribe();
        subscription = null;
      }
      subscription ??= await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(this.key),
      });
    } catch (error) {
      return this.show("error", `The browser's push service refused: ${reason(error)}`);
    }
    try {
      const { endpoint, keys } = subscription.toJSON();
      await this.api("POST", "/api/notifications/subscribe/", {
        endpoint,
        keys: { p256dh: keys.p256dh, auth: keys.auth },
      });
    } catch (error) {
      if (error.status === 503 && error.body?.code === "push_not_configured") {
        return this.show("unavailable");
      }
      return this.show("error", `The server did not take the subscription: ${reason(error)}`);
    }
    localStorage.setItem(OWNER_KEY, String(this.userId));
    this.show("on");
  }

  async turnOff() {
    this.show("working", "Turning off…");
    try {
      const subscription = await this.registration.pushManager.getSubscription();
      const post = (path, body) => this.api("POST", path, body);
      if (subscription && (await this.forgetOnServer(subscription.endpoint, post))) {
        await subscription.unsubscribe();
      }
      localStorage.removeItem(OWNER_KEY);
      this.show("off");
    } catch (error) {
      this.show("error", `Could not turn notifications off: ${reason(error)}`);
    }
  }

  /** On logging out: a browser no one is logged in to gets no one's notifications. */
  async logOut(accessToken) {
    const owned = localStorage.getItem(OWNER_KEY) === String(this.userId);
    this.userId = null;
    this.show("checking");
    if (!owned || !this.registration) return;
    const subscription = await this.registration.pushManager.getSubscription();
    if (!subscription) return;
    const post = async (path, body) => {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${accessToken}` },
        body: JSON.stringify(body),
      });
      if (!response.ok) {
        throw Object.assign(new Error(`The server answered ${response.status}.`), {
          status: response.status,
        });
      }
    };
    let ours = true;
    try {
      ours = await this.forgetOnServer(subscription.endpoint, post);
    } catch {
      // The server could not be told (no token left, no network). The browser unsubscribes
      // anyway: the push service then answers 404 or 410 to the next push, and the worker
      // forgets the subscription.
    }
    if (ours) await subscription.unsubscribe();
    localStorage.removeItem(OWNER_KEY);
  }

  /** True when the server forgot it; false when it was not ours (anymore): someone else has
   * turned notifications on in this browser since, and the subscription is theirs. */
  async forgetOnServer(endpoint, post) {
    try {
      await post("/api/notifications/unsubscribe/", { endpoint });
      return true;
    } catch (error) {
      if (error.status === 404) return false;
      throw error;
    }
  }
}
