"""The OpenAPI document's description: conventions, and the WebSocket protocol, which OpenAPI
cannot express. Plain text without Django imports, so that settings.py can read it."""

from __future__ import annotations

from numeneon.limits import (
    WEBSOCKET_MAX_FRAMES_PER_SECOND,
    WEBSOCKET_MAX_MESSAGE_BYTES,
    WS_TICKET_LIFETIME_SECONDS,
)

API_DESCRIPTION = f"""
The REST API and the notification WebSocket of the NUMENEON social network: accounts,
friends, direct messages and live notifications. The whole contract, for REST and WebSocket
clients, is `docs/CONTRACT.md` in the backend's repository.

## Conventions

- JSON bodies; timestamps are ISO-8601 in UTC; ids are integers; every path ends in `/`.
- Authenticated endpoints take `Authorization: Bearer <access JWT>`. `POST /api/auth/signup/`
  and `POST /api/auth/login/` give an access and a refresh token;
  `POST /api/auth/token/refresh/` gives a new access token; the refresh token keeps working
  until it expires or its login session logs out (`POST /api/auth/logout/`), unless the
  server rotates strictly (then each refresh token works once).
- Every error body is `{{"detail": "<human text>", "error": "<same text>", "code":
  "<machine_code>"}}`, plus `"errors": {{"field": ["..."]}}` on validation failures (400,
  code `validation_error`). `detail` is what DRF clients read, `error` what the NUMENEON web
  app reads. Each operation below lists its error statuses and their codes. A NUL character
  in a path or query string is a 400 `bad_request` on every endpoint.
- Signup and login (per client IP), WebSocket tickets and message sending (per user) are
  throttled: 429 `throttled` with a `Retry-After` header.

## WebSocket: `/ws/notifications/`

Every event pushed to a user is first stored (see `GET /api/notifications/`); `id` grows
strictly for each user. An event is pushed only after the database transaction that caused
it has committed.

### Connecting

`ws(s)://<host>/ws/notifications/?ticket=<ticket>` with a ticket from
`POST /api/auth/ws-ticket/` (recommended: single use, lives {WS_TICKET_LIFETIME_SECONDS} s, no
long-lived secret in a URL), or `?token=<access JWT>` (what the NUMENEON web app does).
Optional: `&last_event_id=<id>` to resume after the last event the client has seen.

- A present `Origin` header that is not an allowed origin (the CORS list, or this server's
  own host): the handshake is refused with HTTP 403.
- A missing, malformed, expired or forged credential, or an unknown, expired or used ticket:
  the socket is accepted and then closed with **4001**. An inactive user: **4003**.

### Server frames, in order

1. `{{"type": "connection_established", "user_id": <id>, "message": "<text>",
   "last_event_id": <newest stored event id, 0 when none>}}`
2. Only when `last_event_id` was given: every stored event with a larger id, oldest first,
   each framed exactly as live (below), then `{{"type": "replay_complete", "count": <n>}}`.
   Where more than 500 would be replayed, none are sent and the frame is
   `{{"type": "replay_complete", "count": 0, "recovered": false}}`: the client reloads its
   state over REST (`GET /api/notifications/?after=<id>`).
3. Live events, each exactly once and in `id` order, with no gap between the replay and the
   live stream: `{{"type": "<event type>", "id": <id>, "created_at": "<timestamp>",
   "data": {{...}}}}` — the same `type`, `id`, `created_at` and `data` as the stored event
   (the `Event` schema).

Event types and their `data`:

- `friend_request`, to the addressee: `{{"request_id", "from_user": user summary}}`.
- `friend_accepted`, to who sent the request: `{{"request_id", "from_user": summary,
  "friend": summary, "message"}}` (both summaries name who accepted; `message` is human
  text such as `"bob accepted your friend request."`).
- `friend_request_declined`, to who sent the request: `{{"request_id", "by": summary}}`.
- `friend_request_cancelled`, to the addressee: `{{"request_id", "from_user": summary}}`.
- `friend_removed`, to the other person: `{{"user": summary}}` (who ended the friendship).
- `new_message`, to the receiver: `{{"from_user": {{id, username}}, "message": {{id, content,
  created_at}}}}` and, flat beside them, the message's `id`, `sender`, `receiver`, `content`,
  `is_read`, `created_at`.
- `message_sent`, to the sender's own sockets: the same `data` as the receiver's
  `new_message` (so the sender's other tabs show the message); stored already read.
- `messages_read`, to the sender of the messages: `{{"reader": summary, "up_to_id",
  "count"}}`.

A user summary is `{{"id", "username", "first_name", "last_name"}}`.

### Client frames (one JSON object per text frame)

- `{{"type": "ping"}}`: answered with `{{"type": "pong"}}`.
- `{{"type": "ack", "last_event_id": <id>}}`: marks the user's stored events up to `id`
  read; no answer.
- Anything else: answered with `{{"type": "error", "code": "<code>", "message": "<text>"}}`;
  the socket stays open.

Error frame codes: text that is not JSON → `invalid_json`; JSON that is not an object, an
object without a string `type`, a binary frame, or an `ack` without a positive integer
`last_event_id` → `bad_frame`; an unknown `type` → `unknown_type`.

### Close codes

- **4001**: a missing, malformed, expired or forged credential. Do not retry with it: log
  in again.
- **4002**: the access token that opened the socket expired. Refresh the token, reconnect
  with `last_event_id`.
- **4003**: the user is inactive. Do not retry: log in again.
- **4008**: more than {WEBSOCKET_MAX_FRAMES_PER_SECOND} frames within one second. Do not
  reconnect in a loop.
- **4009**: the user opened one socket more than allowed (20 by default,
  `WEBSOCKET_MAX_SOCKETS_PER_USER`); the oldest closes. Do not reconnect in a loop.
- **1009**: a message over {WEBSOCKET_MAX_MESSAGE_BYTES // 1024} KiB.
- **1012**: the server is restarting; **1013**: the channel layer (Redis) is unavailable.
  Reconnect with backoff and `last_event_id`.

Close codes 4000-4099 mean "do not reconnect with the same credential". Any other close
(1006 included): reconnect with backoff and `last_event_id`; nothing is lost.
"""
