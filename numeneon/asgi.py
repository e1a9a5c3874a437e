"""ASGI entry point: HTTP goes to Django, WebSockets through JWT auth to the consumers."""

from __future__ import annotations

import logging
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "numeneon.settings")
# Set Django up before importing anything that touches models.
django.setup(set_prefix=False)

from numeneon.handlers import OneHopASGIHandler  # noqa: E402

django_asgi_app = OneHopASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from notifications.auth import JWTAuthMiddleware  # noqa: E402
from notifications.origin import AllowedOriginValidator  # noqa: E402
from notifications.routing import websocket_urlpatterns  # noqa: E402
from numeneon.clientaddr import ClientAddressMiddleware  # noqa: E402

if settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer":
    logging.getLogger("numeneon").warning(
        "Using the in-memory channel layer: events reach only sockets of this one process. "
        "Set REDIS_URL to run more than one server process."
    )

application = ClientAddressMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": AllowedOriginValidator(
                JWTAuthMiddleware(URLRouter(websocket_urlpatterns))
            ),
        }
    )
)

# Last: what exists now lives as long as the process; keep the collector from walking it.
from numeneon.gctune import tune_after_startup  # noqa: E402

tune_after_startup()
