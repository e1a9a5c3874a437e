"""/healthz: is this process able to do its job? Cheap enough to probe every few seconds."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse

from notifications.layerwatch import layer_needs_watch, ping_once
from numeneon.errors import error_body

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0


def _database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()


async def _channel_layer() -> None:
    """A message makes the round trip through the layer (Redis) to a channel of our own.

    Not with the pub/sub layer: a channel of it stays subscribed until a receive() on it is
    cancelled, so each probe would leave one behind; Redis must answer a PING instead."""
    if layer_needs_watch():
        await ping_once()
        return
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "health.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "health.ping":
        raise RuntimeError("the channel layer returned another message")


async def _run(check) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception as error:
        return f"failing: {type(error).__name__}"
    return "ok"


async def healthz(request) -> JsonResponse:
    results = dict(
        zip(
            ("database", "channel_layer"),
            await asyncio.gather(_run(sync_to_async(_database)), _run(_channel_layer)),
            strict=True,
        )
    )
    failing = [name for name, result in results.items() if result != "ok"]
    if not failing:
        return JsonResponse({"status": "ok", "checks": results})
    message = f"Unhealthy: {', '.join(failing)}."
    logger.warning("Health check failing: %s", results)
    body = {**error_body(message, "unhealthy"), "status": "unavailable", "checks": results}
    return JsonResponse(body, status=503)
