// NUMENEON real-time client: one resumable WebSocket to /ws/notifications/, no dependencies.
//
//   import { createRealtime } from "/static/numeneon-realtime.js";
//   const realtime = createRealtime({ getToken: () => auth.access, onAuthFailure: logout });
//   const unsubscribe = realtime.subscribe("new_message", (data) => showMessage(data));
//   realtime.on("reload", () => refetchEverything());
//
// The wire protocol, with every event type and its `data`, is docs/CONTRACT.md in this
// repository. The client keeps no list of types: each event, whatever its type, is delivered to
// the app at most once and in id order; what the socket missed while it was down is replayed by
// the server from `last_event_id`, and when it cannot be, "reload" asks the app to refetch over
// REST.

export const CLOSE_INVALID_CREDENTIAL = 4001;
export const CLOSE_TOKEN_EXPIRED = 4002;
export const CLOSE_INACTIVE_USER = 4003;
export const CLOSE_TOO_MANY_SOCKETS = 4009;
export const CLOSE_SERVICE_RESTART = 1012;

const DEFAULTS = {
  minDelay: 500,
  maxDelay: 15000,
  heartbeatInterval: 25000,
  pongTimeout: 10000,
  // A handshake that neither fails nor completes (a half-open network) must not hang forever.
  connectTimeout: 15000,
  storageKey: "numeneon.realtime.last_event_id",
};

/**
 * @param {object} options
 * @param {string | (() => string)} [options.url] the socket URL; default: this page's host,
 *   path /ws/notifications/
 * @param {(info: {reason: string}) => (string | null | Promise<string | null>)} [options.getTicket]
 *   a fresh single-use ticket from POST /api/auth/ws-ticket/ (preferred); null: logged out
 * @param {(info: {reason: string}) => (string | null | Promise<string | null>)} [options.getToken]
 *   the access JWT; after a 4002 close `reason` is "expired": refresh it. null: logged out
 * @param {(info: {code: number | null, reason: string}) => void} [options.onAuthFailure]
 * @param {(info: {reason: string}) => void} [options.onReload] refetch state over REST
 * @param {{getItem(k: string): string | null, setItem(k: string, v: string): void}} [options.storage]
 *   keeps the resume position across page loads (localStorage, sessionStorage)
 * @param {number | string} [options.userId] whose stored position to resume from at start
 */
export function createRealtime(options = {}) {
  const config = { ...DEFAULTS, ...options };
  const WebSocketImpl = options.WebSocket ?? globalThis.WebSocket;
  const setTimer = options.setTimeout ?? globalThis.setTimeout.bind(globalThis);
  const clearTimer = options.clearTimeout ?? globalThis.clearTimeout.bind(globalThis);
  const random = options.random ?? Math.random;
  const eventTarget =
    options.eventTarget !== undefined
      ? options.eventTarget
      : typeof window !== "undefined"
        ? window
        : null;
  const logger = options.logger !== undefined ? options.logger : globalThis.console;
  const credentialKind = options.getTicket ? "ticket" : "token";
  const fetchCredential = options.getTicket ?? options.getToken;
  if (typeof fetchCredential !== "function") {
    throw new TypeError("createRealtime needs getTicket or getToken");
  }
  if (typeof WebSocketImpl !== "function") {
    throw new TypeError("createRealtime needs a WebSocket implementation");
  }

  const subscribers = new Map(); // event type (or "*") -> Set of callbacks
  const handlers = new Map(); // "status" | "reload" | "replay" | "error" -> Set of callbacks
  const positions = new Map(); // user id -> id of the newest event delivered to the app

  let status = "idle";
  let socket = null;
  let connected = false;
  let stopped = false;
  let generation = 0; // bumps whenever a socket is abandoned, so its late callbacks are ignored
  let attempt = 0; // failed attempts since the last connection_established
  let credentialReason = "connect";
  let userId = options.userId ?? null;
  let sentPosition = null; // the last_event_id this socket asked to resume from
  let sentFor = null; // ...and whose position that was
  let serverNewest = 0;
  let reconnectTimer = null;
  let connectTimer = null;
  let heartbeatTimer = null;
  let pongTimer = null;

  // --- listeners ----------------------------------------------------------------------------

  function addTo(map, key, callback) {
    if (typeof callback !== "function") throw new TypeError("callback must be a function");
    if (!map.has(key)) map.set(key, new Set());
    map.get(key).add(callback);
    return () => {
      const set = map.get(key);
      if (set) {
        set.delete(callback);
        if (set.size === 0) map.delete(key);
      }
    };
  }

  function callEach(set, args) {
    if (!set) return;
    // A copy: a callback may unsubscribe itself or others while we iterate.
    for (const callback of [...set]) {
      try {
        callback(...args);
      } catch (error) {
        // One broken listener must not stop the others or the resume position.
        if (logger) logger.error("numeneon-realtime: a listener threw", error);
      }
    }
  }

  function emit(name, ...args) {
    callEach(handlers.get(name), args);
  }

  function setStatus(next, info = {}) {
    status = next;
    emit("status", next, info);
  }

  // --- resume position ----------------------------------------------------------------------

  function storageKeyFor(user) {
    return `${config.storageKey}:${user}`;
  }

  function positionOf(user) {
    if (user === null || user === undefined) return null;
    if (positions.has(String(user))) return positions.get(String(user));
    if (!config.storage) return null;
    try {
      const stored = Number.parseInt(config.storage.getItem(storageKeyFor(user)) ?? "", 10);
      return Number.isSafeInteger(stored) && stored >= 0 ? stored : null;
    } catch {
      return null; // storage may be disabled (private mode) or full: memory still works
    }
  }

  function setPosition(user, id) {
    positions.set(String(user), id);
    if (!config.storage) return;
    try {
      config.storage.setItem(storageKeyFor(user), String(id));
    } catch {
      // see positionOf
    }
  }

  // --- connecting ---------------------------------------------------------------------------

  function socketUrl(credential, position) {
    let base = typeof config.url === "function" ? config.url() : config.url;
    if (!base) {
      const { protocol, host } = globalThis.location;
      base = `${protocol === "https:" ? "wss:" : "ws:"}//${host}/ws/notifications/`;
    }
    const query = `${credentialKind}=${encodeURIComponent(credential)}${
      position === null ? "" : `&last_event_id=${position}`
    }`;
    return `${base}${base.includes("?") ? "&" : "?"}${query}`;
  }

  async function open() {
    const mine = ++generation;
    reconnectTimer = null;
    setStatus("connecting", { attempt });
    const reason = credentialReason;
    let credential;
    try {
      credential = await fetchCredential({ reason });
    } catch (error) {
      if (mine !== generation || stopped) return;
      emit("error", { code: "credential_failed", error });
      scheduleReconnect(backoffDelay(), { code: null, reason: "credential_failed" });
      return;
    }
    if (mine !== generation || stopped) return;
    if (!credential) {
      stop("no_credential", null);
      return;
    }
    credentialReason = "connect";
    sentFor = userId;
    sentPosition = positionOf(userId);
    let ws;
    try {
      ws = new WebSocketImpl(socketUrl(credential, sentPosition));
    } catch (error) {
      emit("error", { code: "socket_failed", error });
      scheduleReconnect(backoffDelay(), { code: null, reason: "socket_failed" });
      return;
    }
    socket = ws;
    ws.onmessage = (event) => {
      if (ws === socket) receive(event.data);
    };
    ws.onclose = (event) => {
      if (ws === socket) closed(event.code, event.reason);
    };
    ws.onerror = () => {}; // a close event always follows, with the code that matters
    connectTimer = setTimer(() => abandon("connect_timeout"), config.connectTimeout);
  }

  function receive(raw) {
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object" || typeof frame.type !== "string") return;
    // Any frame proves the socket alive, not only the pong.
    clearTimer(pongTimer);
    pongTimer = null;
    switch (frame.type) {
      case "connection_established":
        established(frame);
        return;
      case "replay_complete":
        if (frame.recovered === false) {
          setPosition(userId, serverNewest);
          reload("not_recovered");
        }
        emit("replay", { count: frame.count, recovered: frame.recovered !== false });
        return;
      case "pong":
        return;
      case "error":
        emit("error", frame);
        return;
      default:
        deliver(frame);
    }
  }

  function established(frame) {
    clearTimer(connectTimer);
    connectTimer = null;
    attempt = 0;
    connected = true;
    userId = frame.user_id ?? userId;
    serverNewest = Number.isSafeInteger(frame.last_event_id) ? frame.last_event_id : 0;
    const resumed = sentPosition !== null;
    let reloadReason = null;
    if (!resumed) {
      // Nothing to resume from: everything up to the server's newest is the app's REST state.
      setPosition(userId, serverNewest);
      reloadReason = "fresh";
    } else if (String(sentFor) !== String(userId)) {
      // The credential belongs to someone else than the position we sent: that replay is not
      // this user's history.
      setPosition(userId, serverNewest);
      reloadReason = "user_changed";
    } else if (serverNewest < sentPosition) {
      // The server's history is older than ours (a reset database): waiting for ids above our
      // position would drop every new event.
      setPosition(userId, serverNewest);
      reloadReason = "history_reset";
    }
    setStatus("connected", { userId, resumed: resumed && !reloadReason });
    scheduleHeartbeat();
    if (reloadReason) reload(reloadReason);
  }

  function deliver(frame) {
    const id = frame.id;
    if (Number.isSafeInteger(id) && userId !== null) {
      const position = positionOf(userId);
      // Ids grow strictly per user and arrive in order: at or below the position means
      // already delivered (a replay overlapping live pushes, a duplicate push).
      if (position !== null && id <= position) return;
      // Recorded before the listeners run, so that one that throws cannot cause a redelivery.
      setPosition(userId, id);
    }
    const data = "data" in frame ? frame.data : frame;
    callEach(subscribers.get(frame.type), [data, frame]);
    callEach(subscribers.get("*"), [data, frame]);
  }

  function reload(reason) {
    if (typeof config.onReload === "function") {
      try {
        config.onReload({ reason });
      } catch (error) {
        if (logger) logger.error("numeneon-realtime: onReload threw", error);
      }
    }
    emit("reload", { reason });
  }

  // --- heartbeat ----------------------------------------------------------------------------

  function scheduleHeartbeat() {
    clearTimer(heartbeatTimer);
    heartbeatTimer = setTimer(() => {
      heartbeatTimer = null;
      ping();
      scheduleHeartbeat();
    }, config.heartbeatInterval);
  }

  function ping() {
    if (!send({ type: "ping" })) return;
    if (pongTimer === null) {
      pongTimer = setTimer(() => {
        pongTimer = null;
        abandon("pong_timeout");
      }, config.pongTimeout);
    }
  }

  function send(frame) {
    if (!socket || !connected) return false;
    try {
      socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  // --- closing and reconnecting -------------------------------------------------------------

  function clearSocketTimers() {
    for (const timer of [connectTimer, heartbeatTimer, pongTimer]) clearTimer(timer);
    connectTimer = heartbeatTimer = pongTimer = null;
  }

  function detach() {
    const ws = socket;
    socket = null;
    connected = false;
    clearSocketTimers();
    if (!ws) return;
    ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(1000);
    } catch {
      // already closing
    }
  }

  /** Give up on the current socket without waiting for its close event, which a dead network
   * may not deliver for minutes. */
  function abandon(reason) {
    generation++;
    detach();
    scheduleReconnect(backoffDelay(), { code: null, reason });
  }

  function closed(code, reason) {
    socket = null;
    connected = false;
    clearSocketTimers();
    generation++;
    const info = { code, reason: reason || "" };
    if (code === CLOSE_INVALID_CREDENTIAL || code === CLOSE_INACTIVE_USER) {
      stop("auth_failed", code);
    } else if (code === CLOSE_TOO_MANY_SOCKETS) {
      // A newer socket of this user replaced this one; reconnecting would evict the next
      // oldest, and the tabs would take turns evicting each other.
      stopWith("stopped", { ...info, reason: "replaced" });
    } else if (code === CLOSE_TOKEN_EXPIRED) {
      credentialReason = "expired";
      scheduleReconnect(0, info);
    } else if (code === CLOSE_SERVICE_RESTART) {
      scheduleReconnect(0, info); // a deploy: the next server is usually there already
    } else {
      scheduleReconnect(backoffDelay(), info);
    }
  }

  function backoffDelay() {
    // Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): clients cut off
    // together do not come back together.
    const ceiling = Math.min(config.maxDelay, config.minDelay * 2 ** attempt);
    attempt = Math.min(attempt + 1, 30);
    return Math.floor(random() * ceiling);
  }

  function scheduleReconnect(delay, info) {
    if (stopped) return;
    clearTimer(reconnectTimer);
    setStatus("reconnecting", { ...info, delay, attempt });
    reconnectTimer = setTimer(open, delay);
  }

  function stopWith(finalStatus, info) {
    stopped = true;
    generation++;
    clearTimer(reconnectTimer);
    reconnectTimer = null;
    detach();
    removeNetworkListeners();
    setStatus(finalStatus, info);
  }

  function stop(reason, code) {
    stopWith("stopped", { code, reason });
    if (typeof config.onAuthFailure === "function") {
      try {
        config.onAuthFailure({ code, reason });
      } catch (error) {
        if (logger) logger.error("numeneon-realtime: onAuthFailure threw", error);
      }
    }
  }

  // --- the browser's network events ---------------------------------------------------------

  function wentOnline() {
    if (stopped) return;
    if (connected) {
      ping(); // the old socket may have died with the old network: find out now
      return;
    }
    if (reconnectTimer !== null) {
      clearTimer(reconnectTimer);
      attempt = 0;
      open();
    }
  }

  function wentOffline() {
    // Chromium keeps an open socket "open" while offline and silently holds its frames; drop
    // it so that the app shows the truth and the next socket resumes.
    if (stopped || !socket) return;
    generation++;
    detach();
    scheduleReconnect(backoffDelay(), { code: null, reason: "offline" });
  }

  function removeNetworkListeners() {
    if (!eventTarget) return;
    eventTarget.removeEventListener("online", wentOnline);
    eventTarget.removeEventListener("offline", wentOffline);
  }

  if (eventTarget) {
    eventTarget.addEventListener("online", wentOnline);
    eventTarget.addEventListener("offline", wentOffline);
  }

  // Started after the caller has had the chance to attach its listeners.
  Promise.resolve().then(() => {
    if (!stopped) open();
  });

  return {
    /** Calls `callback(data, frame)` for each event of `type` ("*": every event). */
    subscribe(type, callback) {
      return addTo(subscribers, type, callback);
    },
    /** "status" (status, info), "reload" ({reason}), "replay" ({count, recovered}), "error". */
    on(name, callback) {
      return addTo(handlers, name, callback);
    },
    get isConnected() {
      return connected;
    },
    /** "idle", "connecting", "connected", "reconnecting", "stopped" or "closed". */
    get status() {
      return status;
    },
    get lastEventId() {
      return positionOf(userId);
    },
    /** Marks the user's stored events read up to `id` (default: the newest delivered). */
    ack(id = positionOf(userId)) {
      return Number.isSafeInteger(id) && id > 0 && send({ type: "ack", last_event_id: id });
    },
    close() {
      if (status === "closed") return;
      stopWith("closed", { code: 1000, reason: "closed" });
    },
  };
}

/**
 * getTicket for createRealtime: a fresh ticket from POST /api/auth/ws-ticket/ each time.
 * `getAccessToken` returns the access JWT (refreshed by the app when needed) or null.
 */
export function ticketFetcher({ baseUrl = "", getAccessToken, fetch = globalThis.fetch }) {
  return async (info) => {
    const access = await getAccessToken(info);
    if (!access) return null;
    const response = await fetch(`${baseUrl}/api/auth/ws-ticket/`, {
      method: "POST",
      headers: { Authorization: `Bearer ${access}`, Accept: "application/json" },
    });
    if (response.status === 401 || response.status === 403) return null;
    if (!response.ok) throw new Error(`ws-ticket answered ${response.status}`);
    const body = await response.json();
    return body.ticket;
  };
}
