"""The socket at /ws/notifications/: auth is done by the middleware; this forwards events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from notifications import layerwatch, selectors, services
from notifications.auth import query_params
from notifications.dbcall import database_call
from notifications.registry import socket_registry
from notifications.services import encode_frame, event_frame, user_group_name
from numeneon.fields import parse_id
from numeneon.limits import (
    CLOSE_INVALID_CREDENTIAL,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_TOKEN_EXPIRED,
    CLOSE_TOO_MANY_FRAMES,
    CLOSE_TOO_MANY_SOCKETS,
    CLOSE_TRY_AGAIN_LATER,
    WEBSOCKET_MAX_MESSAGE_BYTES,
    FrameRate,
)

logger = logging.getLogger(__name__)

# More missed events than this are not replayed: the client reloads its state over REST.
REPLAY_LIMIT = 500
# What a lost channel layer raises: redis-py's errors derive from these or from RedisError.
LAYER_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, OSError, TimeoutError)
try:
    from redis.exceptions import RedisError

    LAYER_ERRORS = (*LAYER_ERRORS, RedisError)
except ImportError:  # pragma: no cover - redis is a dependency, but the layer may be in-memory
    pass

# Tasks started by the sockets' timers, kept until done.
_timer_tasks: set[asyncio.Task] = set()


async def _close_try_again_later(consumer: NotificationConsumer) -> None:
    await consumer.close(code=CLOSE_TRY_AGAIN_LATER)


def parse_event_id(value: str) -> int | None:
    """`last_event_id` from the query string: 0 or a positive id; None when it is neither."""
    return 0 if value.strip() == "0" else parse_id(value)


class NotificationConsumer(AsyncWebsocketConsumer):
    user_id: int | None = None
    group_name: str | None = None
    # The id of the newest event this socket has sent (or that predates the connection).
    last_sent_id = 0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Timers, not tasks: an idle socket holds two small handles instead of two coroutines.
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._finished = False
        self._layer_watch: layerwatch.LayerWatch | None = None
        self._registered = False
        # Made on the first frame from the client: most sockets never send one.
        self._frame_rate: FrameRate | None = None
        self._opened_at = time.monotonic()
        self._close_code: int | None = None

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        except LAYER_ERRORS as error:
            # The channel layer (Redis) is gone, and with it this socket's group membership:
            # ask the client to come back later and resume from its last event id.
            logger.warning(
                "Channel layer unreachable (%s: %s); closing the socket of user %s with %s",
                type(error).__name__,
                error,
                self.user_id,
                CLOSE_TRY_AGAIN_LATER,
            )
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})
        finally:
            self._cancel_timers()
            if self._layer_watch is not None:
                self._layer_watch.discard(self)
            self._log_close()
            if self._registered:
                with contextlib.suppress(*LAYER_ERRORS):
                    await socket_registry().unregister(self.user_id, self.channel_name)

    async def close(self, code=None, reason=None) -> None:
        self._close_code = code
        await super().close(code=code, reason=reason)

    def _log_close(self) -> None:
        duration_ms = round((time.monotonic() - self._opened_at) * 1000, 1)
        event = "ws_close" if self.user_id is not None else "ws_refused"
        logger.info(
            "socket %s user=%s code=%s %.1fms",
            "closed" if self.user_id is not None else "refused",
            self.user_id,
            self._close_code,
            duration_ms,
            extra={
                "event": event,
                "user_id": self.user_id,
                "code": self._close_code,
                "duration_ms": duration_ms,
            },
        )

    async def dispatch(self, message: dict) -> None:
        """channels' dispatch, without its `aclose_old_connections()` before every handler:
        that is a thread hop per pushed event. Every database access here goes through
        database_call (database_sync_to_async), which closes stale connections itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        user_id = self.scope.get("user_id")
        close_code = self.scope.get("auth_close_code")
        if user_id is None or close_code:
            await self._refuse(close_code or CLOSE_INVALID_CREDENTIAL)
            return
        group_name = user_group_name(user_id)
        # Join before reading the user and the newest id, so that neither an event nor a
        # deactivation (whose close is pushed to this group) falls between the two; events
        # pushed meanwhile wait in this consumer's channel until connect() returns, and
        # notification_event() drops those already sent.
        await self.channel_layer.group_add(group_name, self.channel_name)
        resume_from = query_params(self.scope).get("last_event_id")
        after = None if resume_from is None else parse_event_id(resume_from)
        # Everything the database must say about this socket, in one call on the pool.
        opening = await database_call(services.socket_open)(
            user_id=user_id, replay_after=after, replay_limit=REPLAY_LIMIT + 1
        )
        if opening.refused:
            await self.channel_layer.group_discard(group_name, self.channel_name)
            await self._refuse(opening.refused)
            return
        self.user_id, self.group_name = user_id, group_name
        evicted = await socket_registry().register(
            user_id, self.channel_name, settings.WEBSOCKET_MAX_SOCKETS_PER_USER
        )
        self._registered = True
        await self.accept()
        for channel_name in evicted:
            await self.channel_layer.send(
                channel_name, {"type": "session.close", "code": CLOSE_TOO_MANY_SOCKETS}
            )
        await self._send_frame(
            {
                "type": "connection_established",
                "user_id": self.user_id,
                "message": "Connected to NUMENEON notifications.",
                "last_event_id": opening.newest,
            }
        )
        if resume_from is None:
            self.last_sent_id = opening.newest
        else:
            await self._replay(after, opening.missed, opening.newest)
        logger.info(
            "socket open user=%s",
            self.user_id,
            extra={"event": "ws_open", "user_id": self.user_id},
        )
        if layerwatch.layer_needs_watch():
            self._layer_watch = layerwatch.watch_for(_close_try_again_later)
            self._layer_watch.add(self)
        else:
            # RedisChannelLayer (and the in-memory one) forget a membership after
            # group_expiry; a pub/sub subscription lasts as long as the socket.
            self._schedule_membership_refresh()
        expires_at = self.scope.get("token_expires_at")
        if expires_at is not None:
            # A timer, not a check on the next frame: an idle socket closes on time too.
            self._schedule(
                "token", max(expires_at - time.time(), 0), self.close, CLOSE_TOKEN_EXPIRED
            )

    async def _refuse(self, code: int) -> None:
        # Accept first: closing during the handshake would hide the code from a browser.
        await self.accept()
        await self.close(code=code)

    async def _replay(self, after: int | None, missed: list, newest: int) -> None:
        """Send the stored events after `after` up to `newest`, then replay_complete."""
        if after is None or len(missed) > REPLAY_LIMIT:
            # Too much to replay (or no usable position): the client reloads over REST.
            self.last_sent_id = newest
            await self._send_frame({"type": "replay_complete", "count": 0, "recovered": False})
            return
        for event in missed:
            await self.send(text_data=encode_frame(event_frame(event)))
        self.last_sent_id = newest
        await self._send_frame({"type": "replay_complete", "count": len(missed)})

    def _schedule(self, name: str, delay: float, coroutine_function, *args) -> None:
        """Run `coroutine_function(*args)` as a task in `delay` seconds, unless the socket has
        closed by then."""
        loop = asyncio.get_running_loop()

        def fire() -> None:
            if not self._finished:
                task = loop.create_task(coroutine_function(*args))
                _timer_tasks.add(task)  # the loop keeps only a weak reference
                task.add_done_callback(_timer_tasks.discard)

        self._timers[name] = loop.call_later(delay, fire)

    def _cancel_timers(self) -> None:
        self._finished = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _schedule_membership_refresh(self) -> None:
        """Re-join the group well before channels-redis forgets the membership."""
        interval = max(settings.CHANNEL_LAYER_GROUP_EXPIRY / 3, 0.5)
        self._schedule("membership", interval, self._refresh_membership)

    async def _refresh_membership(self) -> None:
        try:
            await self.channel_layer.group_add(self.group_name, self.channel_name)
        except LAYER_ERRORS:
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        if not self._finished:
            self._schedule_membership_refresh()

    async def disconnect(self, code: int) -> None:
        if self._close_code is None:
            self._close_code = code  # the client closed
        self._cancel_timers()
        if self.group_name is not None:
            with contextlib.suppress(*LAYER_ERRORS):
                await self.channel_layer.group_discard(self.group_name, self.channel_name)

    # --- messages from the channel layer ----------------------------------------------------

    async def notification_event(self, message: dict) -> None:
        event_id = message["id"]
        if event_id <= self.last_sent_id:
            return  # sent already (a late duplicate) or older than this connection
        if message["prev_id"] > self.last_sent_id:
            # An earlier event of this user was committed but its push has not reached us
            # (late, or dropped by a full channel): send everything up to this one in order.
            await self._send_stored(up_to=event_id)
            return
        await self.send(text_data=message["text"])
        self.last_sent_id = event_id

    async def _send_stored(self, *, up_to: int) -> None:
        missed = await database_call(selectors.events_between)(
            user_id=self.user_id, after=self.last_sent_id, up_to=up_to
        )
        for event in missed:
            await self.send(text_data=encode_frame(event_frame(event)))
            self.last_sent_id = event.id

    async def session_close(self, message: dict) -> None:
        """The user was deactivated (4003) or opened one socket too many (4009)."""
        await self.close(code=message["code"])

    # --- frames from the client -------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        if self.user_id is None:
            return
        if self._over_frame_rate():
            await self.close(code=CLOSE_TOO_MANY_FRAMES)
            return
        size = len(bytes_data) if text_data is None else len(text_data.encode("utf-8"))
        if size > WEBSOCKET_MAX_MESSAGE_BYTES:
            # The server process refuses these before they get here; this guards any other.
            await self.close(code=CLOSE_MESSAGE_TOO_BIG)
            return
        if text_data is None:
            await self._send_error("bad_frame", "Frames must be JSON text, not binary.")
            return
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):
            await self._send_error("invalid_json", "The frame is not valid JSON.")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self._send_error("bad_frame", 'A frame is a JSON object with a string "type".')
            return
        if frame["type"] == "ping":
            await self._send_frame({"type": "pong"})
        elif frame["type"] == "ack":
            await self._ack(frame)
        else:
            await self._send_error("unknown_type", "Unknown frame type.")

    def _over_frame_rate(self) -> bool:
        """True on the 21st frame within one second. (Under numeneon.server the protocol
        counts every frame, pings included, and closes first; this guards any other server.)"""
        if self._frame_rate is None:
            self._frame_rate = FrameRate()
        return self._frame_rate.over(time.monotonic())

    async def _ack(self, frame: dict) -> None:
        up_to = frame.get("last_event_id")
        if isinstance(up_to, bool) or not isinstance(up_to, int) or not 0 < up_to < 2**63:
            await self._send_error("bad_frame", '"last_event_id" must be a positive integer.')
            return
        await database_call(services.notifications_mark_read)(actor_id=self.user_id, up_to=up_to)

    async def _send_error(self, code: str, message: str) -> None:
        await self._send_frame({"type": "error", "code": code, "message": message})

    async def _send_frame(self, frame: dict) -> None:
        await self.send(text_data=encode_frame(frame))
