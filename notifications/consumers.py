"""The socket at /ws/notifications/: auth is done by the middleware; this forwards events."""

from __future__ import annotations

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from notifications import selectors, services
from notifications.auth import CLOSE_INVALID_CREDENTIAL
from notifications.services import encode_frame, event_frame, user_group_name

logger = logging.getLogger(__name__)


class NotificationConsumer(AsyncWebsocketConsumer):
    user_id: int | None = None
    group_name: str | None = None
    # The id of the newest event this socket has sent (or that predates the connection).
    last_sent_id = 0

    async def connect(self) -> None:
        user = self.scope.get("user")
        close_code = self.scope.get("auth_close_code")
        if user is None or close_code:
            # Accept first: closing during the handshake would hide the code from a browser.
            await self.accept()
            await self.close(code=close_code or CLOSE_INVALID_CREDENTIAL)
            return
        self.user_id = user.pk
        self.group_name = user_group_name(user.pk)
        # Join before reading the newest id, so that no event falls between the two.
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        self.last_sent_id = await database_sync_to_async(selectors.last_event_id)(
            user_id=self.user_id
        )
        await self.accept()
        await self._send_frame(
            {
                "type": "connection_established",
                "user_id": self.user_id,
                "message": "Connected to NUMENEON notifications.",
                "last_event_id": self.last_sent_id,
            }
        )

    async def disconnect(self, code: int) -> None:
        if self.group_name is not None:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    # --- events from the channel layer ------------------------------------------------------

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
        missed = await database_sync_to_async(selectors.events_between)(
            user_id=self.user_id, after=self.last_sent_id, up_to=up_to
        )
        for event in missed:
            await self.send(text_data=encode_frame(event_frame(event)))
            self.last_sent_id = event.id

    # --- frames from the client -------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        if self.user_id is None:
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

    async def _ack(self, frame: dict) -> None:
        up_to = frame.get("last_event_id")
        if isinstance(up_to, bool) or not isinstance(up_to, int) or not 0 < up_to < 2**63:
            await self._send_error("bad_frame", '"last_event_id" must be a positive integer.')
            return
        await database_sync_to_async(services.notifications_mark_read)(
            actor_id=self.user_id, up_to=up_to
        )

    async def _send_error(self, code: str, message: str) -> None:
        await self._send_frame({"type": "error", "code": code, "message": message})

    async def _send_frame(self, frame: dict) -> None:
        await self.send(text_data=encode_frame(frame))
