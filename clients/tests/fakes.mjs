// Test doubles for numeneon-realtime.js: a clock whose time moves only when told, and a
// WebSocket whose "server side" the test plays by hand.

import { createRealtime } from "../numeneon-realtime.js";

/** Lets pending promise callbacks (the client's awaited getToken) run. */
export const flush = () => new Promise((resolve) => setImmediate(resolve));

export class FakeClock {
  now = 0;
  #timers = new Map();
  #nextId = 1;

  setTimeout = (callback, ms = 0) => {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.now + ms, callback, id });
    return id;
  };

  clearTimeout = (id) => {
    this.#timers.delete(id);
  };

  /** Delays, from now, of the timers still pending, soonest first. */
  pending() {
    return [...this.#timers.values()].map((t) => t.at - this.now).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, running each timer that falls due, in order. */
  async advance(ms) {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.#timers.values()]
        .filter((t) => t.at <= until)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers.delete(due.id);
      this.now = due.at;
      due.callback();
      await flush();
    }
    this.now = until;
  }
}

export function fakeWebSockets() {
  const sockets = [];

  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.closedWith = null;
      sockets.push(this);
    }

    get params() {
      return Object.fromEntries(new URL(this.url).searchParams);
    }

    send(text) {
      this.sent.push(JSON.parse(text));
    }

    close(code) {
      this.closedWith = code ?? 1005;
    }

    // --- what the server does ---

    push(frame) {
      this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
    }

    establish({ userId = 7, lastEventId = 0 } = {}) {
      this.push({
        type: "connection_established",
        user_id: userId,
        message: "Connected to NUMENEON notifications.",
        last_event_id: lastEventId,
      });
    }

    event(id, type = "new_message", data = { id }) {
      this.push({ type, id, created_at: "2025-01-01T00:00:00Z", data });
    }

    serverClose(code, reason = "") {
      this.onclose?.({ code, reason });
    }
  }

  return { FakeWebSocket, sockets };
}

/** A client over fakes, with everything it reports recorded. */
export async function setup(overrides = {}) {
  const clock = new FakeClock();
  const { FakeWebSocket, sockets } = fakeWebSockets();
  const network = new EventTarget();
  const record = {
    statuses: [],
    reloads: [],
    authFailures: [],
    credentialRequests: [],
    delivered: [],
  };
  const realtime = createRealtime({
    url: "ws://numeneon.test/ws/notifications/",
    getToken: async (info) => {
      record.credentialRequests.push(info.reason);
      return `token-${record.credentialRequests.length}`;
    },
    onReload: ({ reason }) => record.reloads.push(reason),
    onAuthFailure: (info) => record.authFailures.push(info),
    WebSocket: FakeWebSocket,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    random: () => 0.5,
    eventTarget: network,
    logger: null,
    ...overrides,
  });
  realtime.on("status", (status, info) => record.statuses.push({ status, ...info }));
  realtime.subscribe("*", (data, frame) => record.delivered.push(frame.id));
  await flush();
  return {
    realtime,
    clock,
    sockets,
    network,
    record,
    get socket() {
      return sockets.at(-1);
    },
  };
}

/** A memory-backed Storage (the localStorage interface). */
export class MemoryStorage {
  #items = new Map();

  getItem(key) {
    return this.#items.has(key) ? this.#items.get(key) : null;
  }

  setItem(key, value) {
    this.#items.set(key, String(value));
  }

  removeItem(key) {
    this.#items.delete(key);
  }
}
