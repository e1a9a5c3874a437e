from channels.security.websocket import WebsocketDenier
from django.urls import path, re_path

from notifications.consumers import NotificationConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    # Any other path: the handshake is refused (403); unrouted, Daphne answered it with a 500.
    re_path(r"", WebsocketDenier.as_asgi()),
]
