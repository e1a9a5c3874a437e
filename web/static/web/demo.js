// The demo page: accounts, friends and chat over the REST API, kept current by pushed events
// through numeneon-realtime.js. Nothing here polls: after the first load, the page asks the
// API only when the person does something, or when the client says "reload".

import { createRealtime, ticketFetcher } from "../numeneon-realtime.js";

const SESSION_KEY = "numeneon.demo.session";
const TOAST_MS = 6000;

const $ = (selector) => document.querySelector(selector);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  // Text only through text nodes: names and messages come from other people.
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const displayName = (user) =>
  [user.first_name, user.last_name].filter(Boolean).join(" ") || user.username;

// --- the session: tokens in sessionStorage, so two windows can be two people ----------------

let session = readSession();
let refreshing = null;

function readSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY));
  } catch {
    return null;
  }
}

function saveSession() {
  if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(SESSION_KEY);
}

function tokenExpiry(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).exp * 1000;
  } catch {
    return 0;
  }
}

/** The access token, refreshed first when it is about to expire (or `force`). */
async function accessToken({ force = false } = {}) {
  if (!session) return null;
  if (!force && tokenExpiry(session.access) - Date.now() > 30_000) return session.access;
  // One refresh at a time: the refresh token rotates, so a second one in flight would fail.
  refreshing ??= refreshAccess().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function refreshAccess() {
  const current = session;
  const response = await fetch("/api/auth/token/refresh/", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ refresh: current.refresh }),
  });
  if (response.status === 400 || response.status === 401) {
    if (session === current) endSession("Your session has ended. Please log in again.");
    return null;
  }
  if (!response.ok) throw new Error(`token refresh answered ${response.status}`);
  const body = await response.json();
  if (session !== current) return session ? session.access : null;
  session = { ...current, access: body.access, refresh: body.refresh ?? current.refresh };
  saveSession();
  return session.access;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error || body?.detail || `The server answered ${status}.`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const call = (token) =>
    fetch(path, {
      method,
      headers: {
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  let token = await accessToken();
  if (!token) throw new ApiError(401, { error: "Not logged in." });
  let response = await call(token);
  if (response.status === 401) {
    token = await accessToken({ force: true });
    if (!token) throw new ApiError(401, { error: "Not logged in." });
    response = await call(token);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

async function anonymousPost(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// --- state ----------------------------------------------------------------------------------

const state = {
  friends: new Map(), // user id -> summary
  incoming: new Map(), // request id -> {id, from_user}
  sent: new Map(), // request id -> {id, to_user}
  // user id -> {lastMessageId, unread}: lastMessageId tells a pushed message already counted
  // by the REST state from a new one.
  conversations: new Map(),
  threads: new Map(), // user id -> Map(message id -> message)
  openChat: null,
  searchQuery: "",
  searchResults: [],
};

function conversation(userId) {
  if (!state.conversations.has(userId)) {
    state.conversations.set(userId, { lastMessageId: 0, unread: 0 });
  }
  return state.conversations.get(userId);
}

function resetState() {
  state.friends.clear();
  state.incoming.clear();
  state.sent.clear();
  state.conversations.clear();
  state.threads.clear();
  state.openChat = null;
  state.searchQuery = "";
  state.searchResults = [];
}

// --- live events ----------------------------------------------------------------------------

let realtime = null;
let loading = null;
let loadAgain = false;
// Events that arrive while the REST state loads wait here, then apply on top of it: applied
// earlier, the REST answer (read before they were committed) would overwrite them.
let heldEvents = null;

function connect() {
  const wantsTicket = new URLSearchParams(location.search).get("ws") === "ticket";
  const credentials = wantsTicket
    ? { getTicket: ticketFetcher({ getAccessToken: () => accessToken() }) }
    : { getToken: ({ reason }) => accessToken({ force: reason === "expired" }) };
  realtime = createRealtime({
    ...credentials,
    userId: session.user.id,
    storage: sessionStorage,
    onAuthFailure: ({ code }) =>
      endSession(
        code === 4003 ? "This account is inactive." : "Your session has ended. Log in again.",
      ),
    onReload: () => loadAll(),
  });
  realtime.on("status", renderConnection);
  for (const type of ["friend_request", "friend_accepted", "new_message", "messages_read"]) {
    realtime.subscribe(type, (data) => receive(type, data));
  }
}

function receive(type, data) {
  if (heldEvents) {
    heldEvents.push([type, data]);
    return;
  }
  apply(type, data);
  render();
}

function apply(type, data) {
  if (type === "friend_request") {
    state.incoming.set(data.request_id, { id: data.request_id, from_user: data.from_user });
  } else if (type === "friend_accepted") {
    const friend = data.friend ?? data.from_user;
    state.friends.set(friend.id, friend);
    for (const [id, request] of state.sent) {
      if (request.to_user.id === friend.id) state.sent.delete(id);
    }
    toast(`${displayName(friend)} accepted your friend request`, type);
  } else if (type === "new_message") {
    addMessage(data.sender.id, data);
    const chat = conversation(data.sender.id);
    if (data.id <= chat.lastMessageId) return;
    chat.lastMessageId = data.id;
    if (chatIsOpen(data.sender.id)) {
      markRead(data.sender.id);
    } else {
      chat.unread += 1;
      toast(`${data.sender.username}: ${data.content}`, type);
    }
  } else if (type === "messages_read") {
    const thread = state.threads.get(data.reader.id);
    for (const message of thread?.values() ?? []) {
      if (message.sender.id === session.user.id && message.id <= data.up_to_id) {
        message.is_read = true;
      }
    }
  }
}

/** (Re)loads everything the page shows, on login and whenever the client says "reload". */
function loadAll() {
  if (loading) {
    loadAgain = true;
    return loading;
  }
  heldEvents = [];
  loading = (async () => {
    try {
      do {
        loadAgain = false;
        const [friends, incoming, sent, conversations] = await Promise.all([
          api("GET", "/api/friends/"),
          api("GET", "/api/friends/requests/"),
          api("GET", "/api/friends/requests/sent/"),
          api("GET", "/api/messages/conversations/"),
        ]);
        state.friends = new Map(friends.map((f) => [f.id, f]));
        state.incoming = new Map(incoming.map((r) => [r.id, r]));
        state.sent = new Map(sent.map((r) => [r.id, r]));
        state.conversations = new Map(
          conversations.map((c) => [
            c.user.id,
            { lastMessageId: c.last_message.id, unread: c.unread_count },
          ]),
        );
        state.threads.clear();
        if (state.openChat !== null) await loadThread(state.openChat);
      } while (loadAgain);
    } catch (error) {
      if (session) toast(`Could not load: ${error.message}`, "error");
    } finally {
      const held = heldEvents ?? [];
      heldEvents = null;
      loading = null;
      for (const [type, data] of held) apply(type, data);
      if (state.openChat !== null && conversation(state.openChat).unread) {
        markRead(state.openChat);
      }
      render();
    }
  })();
  return loading;
}

function addMessage(otherId, message) {
  const thread = state.threads.get(otherId);
  if (thread && !thread.has(message.id)) thread.set(message.id, message);
}

async function loadThread(userId) {
  const messages = await api("GET", `/api/messages/conversation/${userId}/`);
  const thread = state.threads.get(userId) ?? new Map();
  for (const message of messages) thread.set(message.id, message);
  state.threads.set(userId, thread);
  const newest = messages.at(-1);
  if (newest) {
    const chat = conversation(userId);
    chat.lastMessageId = Math.max(chat.lastMessageId, newest.id);
  }
}

const chatIsOpen = (userId) =>
  state.openChat === userId && document.visibilityState === "visible";

const readsInFlight = new Map();

function markRead(userId) {
  conversation(userId).unread = 0;
  // One request per conversation at a time; a message arriving meanwhile asks for another.
  if (readsInFlight.has(userId)) {
    readsInFlight.set(userId, true);
    return;
  }
  readsInFlight.set(userId, false);
  api("POST", `/api/messages/conversation/${userId}/read/`)
    .catch(() => {})
    .finally(() => {
      const again = readsInFlight.get(userId);
      readsInFlight.delete(userId);
      if (again) markRead(userId);
    });
}

// --- what the person does -------------------------------------------------------------------

async function sendFriendRequest(user) {
  try {
    const body = await api("POST", `/api/friends/request/${user.id}/`);
    if (body.friend) {
      state.friends.set(body.friend.id, body.friend);
      for (const [id, request] of state.incoming) {
        if (request.from_user.id === user.id) state.incoming.delete(id);
      }
    } else {
      state.sent.set(body.request.id, { id: body.request.id, to_user: body.request.to_user });
    }
  } catch (error) {
    toast(error.message, "error");
  }
  render();
}

async function answerRequest(request, accept) {
  try {
    const body = await api("POST", `/api/friends/${accept ? "accept" : "decline"}/${request.id}/`);
    if (accept) state.friends.set(body.friend.id, body.friend);
  } catch (error) {
    toast(error.status === 404 ? "That request is no longer pending." : error.message, "error");
  }
  state.incoming.delete(request.id);
  render();
}

async function cancelRequest(request) {
  try {
    await api("DELETE", `/api/friends/cancel/${request.to_user.id}/`);
  } catch (error) {
    if (error.status !== 404) toast(error.message, "error");
  }
  state.sent.delete(request.id);
  render();
}

async function openChat(userId) {
  state.openChat = userId;
  const hadUnread = conversation(userId).unread > 0;
  if (hadUnread) markRead(userId);
  render();
  $("#message-input").focus();
  if (!state.threads.has(userId)) {
    try {
      await loadThread(userId);
    } catch (error) {
      toast(error.message, "error");
    }
    render();
  }
}

// Sends one at a time, so that the server's order (message ids) is the order they were typed.
let sendQueue = Promise.resolve();

function sendMessage(receiverId, content) {
  sendQueue = sendQueue.then(async () => {
    try {
      const message = await api("POST", "/api/messages/", { receiver_id: receiverId, content });
      const thread = state.threads.get(receiverId) ?? new Map();
      thread.set(message.id, message);
      state.threads.set(receiverId, thread);
      const chat = conversation(receiverId);
      chat.lastMessageId = Math.max(chat.lastMessageId, message.id);
    } catch (error) {
      toast(`Not sent: ${error.message}`, "error");
    }
    render();
  });
}

let searchTimer = null;
let searchSeq = 0;

function search(query) {
  state.searchQuery = query.trim();
  clearTimeout(searchTimer);
  if (!state.searchQuery) {
    state.searchResults = [];
    render();
    return;
  }
  searchTimer = setTimeout(async () => {
    const mine = ++searchSeq;
    try {
      const results = await api("GET", `/api/auth/search/?q=${encodeURIComponent(query)}`);
      if (mine === searchSeq) state.searchResults = results;
    } catch (error) {
      toast(error.message, "error");
    }
    render();
  }, 200);
}

// --- rendering ------------------------------------------------------------------------------

function render() {
  if (!session) return;
  renderRequests();
  renderFriends();
  renderSearch();
  renderChat();
  renderBadge();
}

function personRow(user, ...actions) {
  return element(
    "li",
    { dataset: { userId: user.id, username: user.username } },
    element("span", { class: "avatar", "aria-hidden": "true" }, user.username[0].toUpperCase()),
    element("span", { class: "name" }, displayName(user)),
    ...actions,
  );
}

const button = (label, onclick, extra = {}) =>
  element("button", { type: "button", onclick, ...extra }, label);

function fill(listId, items) {
  $(`#${listId}`).replaceChildren(...items);
  const empty = document.querySelector(`[data-empty-for="${listId}"]`);
  if (empty) empty.hidden = items.length > 0;
}

function renderRequests() {
  fill(
    "requests",
    [...state.incoming.values()].map((request) =>
      personRow(
        request.from_user,
        button("Accept", () => answerRequest(request, true), { class: "primary" }),
        button("Decline", () => answerRequest(request, false), { class: "quiet" }),
      ),
    ),
  );
  fill(
    "sent-requests",
    [...state.sent.values()].map((request) =>
      personRow(request.to_user, button("Cancel", () => cancelRequest(request), { class: "quiet" })),
    ),
  );
  const count = $("#requests-count");
  count.textContent = String(state.incoming.size);
  count.hidden = state.incoming.size === 0;
}

function renderFriends() {
  const friends = [...state.friends.values()].sort((a, b) => a.username.localeCompare(b.username));
  fill(
    "friends",
    friends.map((friend) => {
      const unread = state.conversations.get(friend.id)?.unread ?? 0;
      const row = personRow(
        friend,
        unread ? element("span", { class: "count", title: "Unread messages" }, String(unread)) : null,
      );
      row.classList.add("clickable");
      if (state.openChat === friend.id) row.classList.add("selected");
      row.addEventListener("click", () => openChat(friend.id));
      return row;
    }),
  );
}

function renderSearch() {
  const sentTo = new Set([...state.sent.values()].map((r) => r.to_user.id));
  const askedBy = new Map([...state.incoming.values()].map((r) => [r.from_user.id, r]));
  fill(
    "search-results",
    state.searchResults.map((user) => {
      if (state.friends.has(user.id)) {
        return personRow(user, button("Chat", () => openChat(user.id), { class: "quiet" }));
      }
      if (sentTo.has(user.id)) return personRow(user, element("span", { class: "tag" }, "Requested"));
      if (askedBy.has(user.id)) {
        return personRow(
          user,
          button("Accept", () => answerRequest(askedBy.get(user.id), true), { class: "primary" }),
        );
      }
      return personRow(user, button("Add friend", () => sendFriendRequest(user)));
    }),
  );
}

const timeOf = (iso) =>
  new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

function renderChat() {
  const friend = state.openChat === null ? null : state.friends.get(state.openChat);
  const list = $("#messages");
  $("#composer").hidden = !friend;
  if (!friend) {
    $("#chat-title").textContent = "Pick a friend to chat with";
    list.replaceChildren();
    return;
  }
  $("#chat-title").textContent = displayName(friend);
  const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const messages = [...(state.threads.get(friend.id)?.values() ?? [])].sort((a, b) => a.id - b.id);
  list.replaceChildren(
    ...messages.map((message) => {
      const mine = message.sender.id === session.user.id;
      return element(
        "li",
        { class: mine ? "mine" : "theirs", dataset: { id: message.id } },
        element("span", { class: "text" }, message.content),
        element(
          "span",
          { class: "meta" },
          timeOf(message.created_at),
          mine ? element("span", { class: "receipt" }, message.is_read ? " · Seen" : " · Sent") : null,
        ),
      );
    }),
  );
  if (stick) list.scrollTop = list.scrollHeight;
}

function renderBadge() {
  let unread = state.incoming.size;
  for (const chat of state.conversations.values()) unread += chat.unread;
  const badge = $("#unread-badge");
  badge.textContent = String(unread);
  badge.hidden = unread === 0;
}

function renderConnection(status, info = {}) {
  const indicator = $("#connection");
  // While the browser has no network, attempts come and go; "Offline" is what matters.
  const offline =
    (status === "connecting" || status === "reconnecting") &&
    (info.reason === "offline" || !navigator.onLine);
  const labels = {
    connected: "Live",
    connecting: "Connecting…",
    reconnecting: "Reconnecting…",
    stopped: "Not connected",
    closed: "Not connected",
  };
  indicator.dataset.status = offline ? "offline" : status;
  indicator.querySelector(".label").textContent = offline
    ? "Offline"
    : (labels[status] ?? "Not connected");
}

function toast(text, kind) {
  const box = $("#toasts");
  const node = element("div", { class: "toast", role: "status", dataset: { kind } }, text);
  node.addEventListener("click", () => node.remove());
  box.append(node);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => node.remove(), TOAST_MS);
}

// --- logging in and out ---------------------------------------------------------------------

function showAuth(message) {
  $("#auth-view").hidden = false;
  $("#app-view").hidden = true;
  $("#account").hidden = true;
  const error = $("#auth-error");
  error.textContent = message ?? "";
  error.hidden = !message;
  renderConnection("closed");
}

function startSession(body) {
  session = { access: body.access, refresh: body.refresh, user: body.user };
  saveSession();
  resetState();
  $("#auth-view").hidden = true;
  $("#app-view").hidden = false;
  $("#account").hidden = false;
  $("#me").textContent = displayName(session.user);
  render();
  connect();
  loadAll();
}

function endSession(message) {
  if (!session) return;
  const ending = session;
  session = null;
  saveSession();
  realtime?.close();
  realtime = null;
  resetState();
  showAuth(message);
  return ending;
}

function formError(error) {
  const fields = error.body?.errors;
  if (fields) return Object.values(fields).flat().join(" ");
  return error.message;
}

function bindAuthForms() {
  for (const tab of document.querySelectorAll("[data-tab]")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll("[data-tab]")) {
        other.setAttribute("aria-selected", String(other === tab));
      }
      $("#login-form").hidden = tab.dataset.tab !== "login";
      $("#signup-form").hidden = tab.dataset.tab !== "signup";
      $("#auth-error").hidden = true;
    });
  }
  $("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const login = String(form.get("login")).trim();
    try {
      const body = await anonymousPost("/api/auth/login/", {
        [login.includes("@") ? "email" : "username"]: login,
        password: form.get("password"),
      });
      event.target.reset();
      startSession(body);
    } catch (error) {
      showAuth(formError(error));
    }
  });
  $("#signup-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      const body = await anonymousPost("/api/auth/signup/", Object.fromEntries(form));
      event.target.reset();
      startSession(body);
    } catch (error) {
      showAuth(formError(error));
    }
  });
  $("#logout").addEventListener("click", () => {
    const ending = endSession(null);
    if (ending) {
      fetch("/api/auth/logout/", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${ending.access}` },
        body: JSON.stringify({ refresh: ending.refresh }),
      }).catch(() => {});
    }
  });
}

function bindApp() {
  $("#search-form").addEventListener("submit", (event) => event.preventDefault());
  $("#search-input").addEventListener("input", (event) => search(event.target.value));
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("#message-input");
    const content = input.value.trim();
    if (!content || state.openChat === null) return;
    input.value = "";
    sendMessage(state.openChat, content);
  });
  document.addEventListener("visibilitychange", () => {
    if (state.openChat !== null && chatIsOpen(state.openChat)) {
      if (conversation(state.openChat).unread) markRead(state.openChat);
      render();
    }
  });
  for (const name of ["online", "offline"]) {
    window.addEventListener(name, () => realtime && renderConnection(realtime.status));
  }
}

bindAuthForms();
bindApp();
if (session) startSession(session);
else showAuth();
