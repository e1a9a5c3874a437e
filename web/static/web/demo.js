// The demo page: accounts, profiles, friends and chat over the REST API, kept current by
// pushed events through numeneon-realtime.js. Nothing here polls: after the first load, the page
// asks the API only when the person does something, or when the client says "reload".

import { createRealtime, ticketFetcher } from "../numeneon-realtime.js";
import { PushControl } from "./push.js";

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

/** `url` when it is an absolute https URL, else null: the only thing an avatar may load. */
function httpsUrl(url) {
  if (typeof url !== "string" || !url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** `url` when it is an absolute http(s) URL, else null: the only kind of link a profile shows. */
function webUrl(url) {
  if (typeof url !== "string" || !url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

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
  // One refresh at a time: where the server rotates refresh tokens strictly (a setting), each
  // works once, and a second refresh in flight would fail.
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
  me: null, // GET /api/auth/me/: the person's own profile user
  friends: new Map(), // user id -> summary
  incoming: new Map(), // request id -> {id, from_user}
  sent: new Map(), // request id -> {id, to_user}
  // user id -> {lastMessageId, unread}: lastMessageId tells a pushed message already counted
  // by the REST state from a new one.
  conversations: new Map(),
  threads: new Map(), // user id -> Map(message id -> message)
  loadedThreads: new Set(), // user ids whose history was fetched (threads also hold pushes)
  openChat: null,
  searchQuery: "",
  searchResults: [],
  suggestions: [], // as fetched; people who became related since are left out when shown
  pictures: new Map(), // user id -> profile_picture, learnt from any answer that carries it
  profiles: new Map(), // username -> profile user, or {missing: true} after a 404
  openProfile: null, // username whose profile the main pane shows, instead of the chat
  editingProfile: false,
};

function conversation(userId) {
  if (!state.conversations.has(userId)) {
    state.conversations.set(userId, { lastMessageId: 0, unread: 0 });
  }
  return state.conversations.get(userId);
}

function resetState() {
  state.me = null;
  state.friends.clear();
  state.incoming.clear();
  state.sent.clear();
  state.conversations.clear();
  state.threads.clear();
  state.loadedThreads.clear();
  state.openChat = null;
  state.searchQuery = "";
  state.searchResults = [];
  state.suggestions = [];
  state.pictures.clear();
  state.profiles.clear();
  state.openProfile = null;
  state.editingProfile = false;
}

function learnPictures(users) {
  for (const user of users) {
    if ("profile_picture" in user) state.pictures.set(user.id, user.profile_picture);
  }
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
  const types = [
    "friend_request",
    "friend_request_cancelled",
    "friend_request_declined",
    "friend_accepted",
    "friend_removed",
    "new_message",
    "message_sent",
    "messages_read",
  ];
  for (const type of types) {
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
  } else if (type === "friend_request_cancelled") {
    state.incoming.delete(data.request_id);
  } else if (type === "friend_request_declined") {
    state.sent.delete(data.request_id);
  } else if (type === "friend_accepted") {
    const friend = data.friend ?? data.from_user;
    state.friends.set(friend.id, friend);
    state.sent.delete(data.request_id);
    for (const [id, request] of state.sent) {
      if (request.to_user.id === friend.id) state.sent.delete(id);
    }
    const text = typeof data.message === "string" && data.message.trim();
    toast(text || `${displayName(friend)} accepted your friend request.`, type);
  } else if (type === "friend_removed") {
    dropFriend(data.user.id);
  } else if (type === "message_sent") {
    // Sent from another of this person's tabs (or this one: the REST answer has the same id).
    addMessage(data.receiver.id, data);
    const chat = conversation(data.receiver.id);
    chat.lastMessageId = Math.max(chat.lastMessageId, data.id);
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
  $("#app-view").setAttribute("aria-busy", "true");
  loading = (async () => {
    try {
      do {
        loadAgain = false;
        const [me, friends, incoming, sent, conversations, suggestions] = await Promise.all([
          api("GET", "/api/auth/me/"),
          api("GET", "/api/friends/"),
          api("GET", "/api/friends/requests/"),
          api("GET", "/api/friends/requests/sent/"),
          api("GET", "/api/messages/conversations/"),
          // Optional: the rest of the page works without it.
          api("GET", "/api/friends/suggestions/").catch(() => null),
        ]);
        state.me = me;
        learnPictures([me]);
        updateSessionUser(me);
        state.suggestions = suggestions;
        if (suggestions) learnPictures(suggestions);
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
        state.loadedThreads.clear();
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
      $("#app-view").setAttribute("aria-busy", "false");
    }
  })();
  return loading;
}

/** Keyed by message id: a message that arrives twice (a push and a REST answer) shows once. */
function addMessage(otherId, message) {
  if (!state.threads.has(otherId)) state.threads.set(otherId, new Map());
  const thread = state.threads.get(otherId);
  if (!thread.has(message.id)) thread.set(message.id, message);
}

async function loadThread(userId) {
  const messages = await api("GET", `/api/messages/conversation/${userId}/`);
  for (const message of messages) addMessage(userId, message);
  state.loadedThreads.add(userId);
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

/** True when the request was made (or turned into a friendship). */
async function sendFriendRequest(user) {
  let made = false;
  try {
    const body = await api("POST", `/api/friends/request/${user.id}/`);
    made = true;
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
  return made;
}

async function addSuggestion(user) {
  if (await sendFriendRequest(user)) {
    state.suggestions = state.suggestions?.filter((s) => s.id !== user.id) ?? null;
    render();
  }
}

function dropFriend(userId) {
  state.friends.delete(userId);
  if (state.openChat === userId) state.openChat = null;
}

async function removeFriend(user) {
  try {
    await api("DELETE", `/api/friends/remove/${user.id}/`);
  } catch (error) {
    if (error.status !== 404) {
      toast(error.message, "error");
      return;
    }
  }
  dropFriend(user.id);
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
  closeProfile();
  const hadUnread = conversation(userId).unread > 0;
  if (hadUnread) markRead(userId);
  render();
  $("#message-input").focus();
  if (!state.loadedThreads.has(userId)) {
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
      addMessage(receiverId, message);
      const chat = conversation(receiverId);
      chat.lastMessageId = Math.max(chat.lastMessageId, message.id);
    } catch (error) {
      toast(`Not sent: ${error.message}`, "error");
    }
    render();
  });
}

// --- profiles -------------------------------------------------------------------------------

const isMe = (username) => username === session.user.username;

/** Shows `username`'s profile in the main pane, fetched afresh each time it is opened. */
async function showProfile(username) {
  state.openChat = null;
  state.openProfile = username;
  state.editingProfile = false;
  render();
  const path = isMe(username)
    ? "/api/auth/me/"
    : `/api/auth/users/${encodeURIComponent(username)}/`;
  try {
    const person = await api("GET", path);
    learnPictures([person]);
    renameEverywhere(person);
    if (isMe(username)) {
      state.me = person;
      updateSessionUser(person);
    } else {
      state.profiles.set(username, person);
    }
  } catch (error) {
    if (error.status === 404) state.profiles.set(username, { missing: true });
    else toast(error.message, "error");
  }
  render();
}

/** Names learnt from a fresh profile replace the older ones in every list already shown. */
function renameEverywhere(person) {
  const renamed = (user) =>
    user.id === person.id
      ? { ...user, first_name: person.first_name, last_name: person.last_name }
      : user;
  if (state.friends.has(person.id)) {
    state.friends.set(person.id, renamed(state.friends.get(person.id)));
  }
  for (const request of state.incoming.values()) request.from_user = renamed(request.from_user);
  for (const request of state.sent.values()) request.to_user = renamed(request.to_user);
  state.searchResults = state.searchResults.map(renamed);
  if (state.suggestions) state.suggestions = state.suggestions.map(renamed);
}

function closeProfile() {
  state.openProfile = null;
  state.editingProfile = false;
}

/** Names shown in the top bar follow the server's answer about the person. */
function updateSessionUser(me) {
  const user = { ...session.user };
  for (const key of ["id", "username", "first_name", "last_name", "email"]) {
    if (key in me) user[key] = me[key];
  }
  session = { ...session, user };
  saveSession();
}

const PROFILE_FIELDS = ["first_name", "last_name", "bio", "location", "website", "avatar"];

function profileValues(me) {
  const profile = me?.profile ?? {};
  return {
    first_name: me?.first_name ?? "",
    last_name: me?.last_name ?? "",
    bio: profile.bio ?? "",
    location: profile.location ?? "",
    website: profile.website ?? "",
    avatar: profile.avatar ?? "",
  };
}

function startEditingProfile() {
  const form = $("#profile-form");
  const values = profileValues(state.me);
  for (const field of PROFILE_FIELDS) form.elements[field].value = values[field];
  showProfileErrors({});
  state.editingProfile = true;
  render();
  form.elements.bio.focus();
}

function showProfileErrors(errors, message = null) {
  const form = $("#profile-form");
  for (const field of PROFILE_FIELDS) {
    const text = (errors[field] ?? []).join(" ");
    const slot = form.querySelector(`[data-error-for="${field}"]`);
    slot.textContent = text;
    slot.hidden = !text;
    form.elements[field].toggleAttribute("aria-invalid", Boolean(text));
  }
  // Anything not about one of the form's fields (an unknown field, a server error).
  const others = Object.entries(errors)
    .filter(([field]) => !PROFILE_FIELDS.includes(field))
    .flatMap(([, texts]) => texts);
  const general = [message, ...others].filter(Boolean).join(" ");
  const slot = $("#profile-form-error");
  slot.textContent = general;
  slot.hidden = !general;
}

async function saveProfile(form) {
  const before = profileValues(state.me);
  const changes = {};
  for (const field of PROFILE_FIELDS) {
    const value = form.elements[field].value.trim();
    if (value !== before[field]) changes[field] = value;
  }
  if (Object.keys(changes).length === 0) {
    state.editingProfile = false;
    render();
    return;
  }
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const me = await api("PATCH", "/api/auth/profile/", changes);
    state.me = me;
    learnPictures([me]);
    updateSessionUser(me);
    state.editingProfile = false;
    toast("Profile saved.", "notice");
  } catch (error) {
    const errors = error.body?.errors ?? {};
    const aboutFields = PROFILE_FIELDS.some((field) => field in errors);
    showProfileErrors(errors, aboutFields ? null : error.message);
  } finally {
    submit.disabled = false;
  }
  render();
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
      learnPictures(results);
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
  renderMe();
  renderRequests();
  renderFriends();
  renderSuggestions();
  renderSearch();
  renderChat();
  renderProfile();
  renderBadge();
}

/** A round avatar: the person's https picture when known, else their initial. */
function avatar(user, picture = state.pictures.get(user.id)) {
  const initial = element(
    "span",
    { class: "avatar", "aria-hidden": "true" },
    (user.username[0] ?? "?").toUpperCase(),
  );
  const src = httpsUrl(picture);
  if (!src) return initial;
  const image = element("img", {
    class: "avatar",
    src,
    alt: "",
    referrerpolicy: "no-referrer",
    decoding: "async",
  });
  image.addEventListener("error", () => image.replaceWith(initial), { once: true });
  return image;
}

/** A link to the person's profile, shown in the main pane. */
function profileLink(user, label = displayName(user)) {
  return element(
    "a",
    {
      class: "name",
      href: `#profile/${encodeURIComponent(user.username)}`,
      onclick: (event) => {
        event.preventDefault();
        showProfile(user.username);
      },
    },
    label,
  );
}

/** A row of a people list; `link: false` where clicking the row does something else. */
function personRow(user, { link = true, detail = null } = {}, ...actions) {
  const name = link ? profileLink(user) : element("span", { class: "name" }, displayName(user));
  return element(
    "li",
    { dataset: { userId: user.id, username: user.username } },
    avatar(user),
    detail ? element("span", { class: "who" }, name, element("span", { class: "detail" }, detail)) : name,
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
        {},
        button("Accept", () => answerRequest(request, true), { class: "primary" }),
        button("Decline", () => answerRequest(request, false), { class: "quiet" }),
      ),
    ),
  );
  fill(
    "sent-requests",
    [...state.sent.values()].map((request) =>
      personRow(
        request.to_user,
        {},
        button("Cancel", () => cancelRequest(request), { class: "quiet" }),
      ),
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
        { link: false },
        unread ? element("span", { class: "count", title: "Unread messages" }, String(unread)) : null,
      );
      row.classList.add("clickable");
      if (state.openChat === friend.id) row.classList.add("selected");
      row.addEventListener("click", () => openChat(friend.id));
      return row;
    }),
  );
}

/** How the person relates to `userId`: "self", "friend", "sent", "incoming" or "none". */
function relation(userId) {
  if (userId === session.user.id) return { kind: "self" };
  if (state.friends.has(userId)) return { kind: "friend" };
  for (const request of state.sent.values()) {
    if (request.to_user.id === userId) return { kind: "sent", request };
  }
  for (const request of state.incoming.values()) {
    if (request.from_user.id === userId) return { kind: "incoming", request };
  }
  return { kind: "none" };
}

function renderSearch() {
  fill(
    "search-results",
    state.searchResults.map((user) => {
      const { kind, request } = relation(user.id);
      if (kind === "friend") {
        return personRow(user, {}, button("Chat", () => openChat(user.id), { class: "quiet" }));
      }
      if (kind === "sent") return personRow(user, {}, element("span", { class: "tag" }, "Requested"));
      if (kind === "incoming") {
        return personRow(
          user,
          {},
          button("Accept", () => answerRequest(request, true), { class: "primary" }),
        );
      }
      return personRow(user, {}, button("Add friend", () => sendFriendRequest(user)));
    }),
  );
}

const mutualText = (n) =>
  n === 1 ? "1 mutual friend" : `${n > 0 ? n : "No"} mutual friends`;

function renderSuggestions() {
  const empty = document.querySelector('[data-empty-for="suggestions"]');
  if (state.suggestions === null) {
    fill("suggestions", []);
    empty.textContent = "Suggestions are not available.";
    return;
  }
  empty.textContent = "No suggestions right now.";
  // Someone who became a friend, or asked or was asked since the list was fetched, is no
  // longer a suggestion (the server leaves them out too).
  const shown = state.suggestions.filter((user) => relation(user.id).kind === "none");
  fill(
    "suggestions",
    shown.map((user) =>
      personRow(
        user,
        { detail: mutualText(user.mutual_friends_count ?? 0) },
        button("Add friend", () => addSuggestion(user)),
      ),
    ),
  );
}

function renderMe() {
  const user = session.user;
  $("#me").replaceChildren(
    avatar(user, state.me?.profile_picture),
    element("span", { class: "me-name" }, displayName(user)),
  );
}

const dateOf = (iso) =>
  new Date(iso).toLocaleDateString(undefined, { year: "numeric", month: "long", day: "numeric" });

/** A summary of `username` from the lists already loaded, to show while the profile loads. */
function knownUser(username) {
  if (isMe(username)) return session.user;
  const everyone = [
    ...state.friends.values(),
    ...[...state.incoming.values()].map((r) => r.from_user),
    ...[...state.sent.values()].map((r) => r.to_user),
    ...state.searchResults,
    ...(state.suggestions ?? []),
  ];
  return everyone.find((user) => user.username === username) ?? null;
}

function profileActions(user) {
  const { kind, request } = relation(user.id);
  if (kind === "self") {
    return state.editingProfile ? [] : [button("Edit profile", startEditingProfile)];
  }
  if (kind === "friend") {
    return [
      button("Message", () => openChat(user.id), { class: "primary" }),
      button("Remove friend", () => removeFriend(user), { class: "quiet" }),
    ];
  }
  if (kind === "sent") {
    return [
      element("span", { class: "tag" }, "Request sent"),
      button("Cancel request", () => cancelRequest(request), { class: "quiet" }),
    ];
  }
  if (kind === "incoming") {
    return [
      button("Accept", () => answerRequest(request, true), { class: "primary" }),
      button("Decline", () => answerRequest(request, false), { class: "quiet" }),
    ];
  }
  return [button("Add friend", () => sendFriendRequest(user))];
}

function renderProfile() {
  const username = state.openProfile;
  $("#chat").hidden = username !== null;
  $("#profile-view").hidden = username === null;
  if (username === null) return;
  const fetched = isMe(username) ? state.me : state.profiles.get(username);
  const missing = fetched?.missing === true;
  const user = (missing ? null : fetched) ?? knownUser(username);
  const status = $("#profile-status");
  status.hidden = Boolean(fetched) && !missing;
  status.textContent = missing ? `There is no one called @${username}.` : "Loading…";

  $("#profile-avatar").replaceChildren(user ? avatar(user, fetched?.profile_picture) : "");
  $("#profile-name").textContent = user ? displayName(user) : username;
  $("#profile-handle").textContent = `@${username}`;
  $("#profile-actions").replaceChildren(...(user && !missing ? profileActions(user) : []));

  const profile = fetched && !missing ? (fetched.profile ?? {}) : null;
  $("#profile-details").hidden = !profile || state.editingProfile;
  $("#profile-form").hidden = !state.editingProfile || !isMe(username);
  if (!profile) return;
  const bio = $("#profile-bio");
  bio.textContent = profile.bio || "No bio yet.";
  bio.classList.toggle("unset", !profile.bio);
  $("#profile-location").textContent = profile.location || "—";
  const website = webUrl(profile.website);
  $("#profile-website").replaceChildren(
    website
      ? element(
          "a",
          { href: website, target: "_blank", rel: "noopener noreferrer nofollow ugc" },
          profile.website,
        )
      : "—",
  );
  $("#profile-joined").textContent = fetched.date_joined ? dateOf(fetched.date_joined) : "—";
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
  $("#chat-title").replaceChildren(profileLink(friend));
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
  // Only friends' chats can be opened to read them: an ex-friend's unread would never clear.
  for (const [userId, chat] of state.conversations) {
    if (state.friends.has(userId)) unread += chat.unread;
  }
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
  render();
  connect();
  loadAll();
  push.start(session.user.id);
  // A notification clicked while no tab was open opens "/#<its url>".
  if (location.hash.startsWith("#/")) {
    follow(location.hash.slice(1));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

/** Shows what a push notification was about: its url is one of the web app's paths. */
function follow(url) {
  const profile = /^\/profile\/([^/?#]+)$/.exec(url);
  const username = profile ? decodedOrNull(profile[1]) : null;
  if (username) {
    showProfile(username);
  } else {
    closeProfile();
    render();
  }
}

/** A link may be written by anyone: a malformed escape gives the plain view, not an error. */
function decodedOrNull(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
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
  $("#logout").addEventListener("click", async () => {
    // A fresh access token first: the one stored may have expired while the tab sat idle, and
    // the unsubscribe and the logout are made with it.
    const fresh = await accessToken().catch(() => null);
    const ending = endSession(null);
    const token = fresh ?? ending?.access;
    // Pushes stop first: logging out ends the session the unsubscribe is made with.
    await push.logOut(token).catch(() => {});
    if (!ending) return; // the refresh found the session over already
    await fetch("/api/auth/logout/", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ refresh: ending.refresh }),
    }).catch(() => {});
  });
}

function bindApp() {
  $("#me").addEventListener("click", () => showProfile(session.user.username));
  $("#profile-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveProfile(event.target);
  });
  $("#profile-cancel").addEventListener("click", () => {
    state.editingProfile = false;
    render();
  });
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

const push = new PushControl($("#push"), api);
navigator.serviceWorker?.addEventListener("message", (event) => {
  if (session && event.data?.type === "notification-click") follow(String(event.data.url));
});
navigator.serviceWorker?.startMessages();

bindAuthForms();
bindApp();
if (session) startSession(session);
else showAuth();
