"""Limits of the contract and every WebSocket close code it names, shared by the server process
and the socket's code (no Django imports: the server process reads them before Django is set up)."""

from __future__ import annotations

from array import array

WEBSOCKET_MAX_MESSAGE_BYTES = 64 * 1024
WEBSOCKET_MAX_FRAMES_PER_SECOND = 20
WS_TICKET_LIFETIME_SECONDS = 30
# A request body, whether its length is declared or not (chunked); Django's default limit.
MAX_REQUEST_BODY_BYTES = 2_621_440
REQUEST_TOO_LARGE_MESSAGE = f"The request body is larger than {MAX_REQUEST_BODY_BYTES} bytes."
# Arrays and objects inside one another, in a request body or a socket frame: the contract's
# bodies nest three deep; Python's JSON decoder recurses and fails near a thousand.
MAX_JSON_DEPTH = 32

# Close codes (docs/CONTRACT.md, "Close codes"), all of them here and nowhere else.
# 4000-4099 mean "do not reconnect with the same credential".
CLOSE_INVALID_CREDENTIAL = 4001
CLOSE_TOKEN_EXPIRED = 4002
CLOSE_INACTIVE_USER = 4003
# More than WEBSOCKET_MAX_FRAMES_PER_SECOND frames within one second.
CLOSE_TOO_MANY_FRAMES = 4008
# One socket more than WEBSOCKET_MAX_SOCKETS_PER_USER: the user's oldest closes.
CLOSE_TOO_MANY_SOCKETS = 4009

# Registered close codes the application sends; numeneon.upstream_patches lets them through
# autobahn, whose sendClose() accepts only 1000 and 3000-4999.
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_SERVICE_RESTART = 1012
# "Try again later": retryable, unlike 4000-4099.
CLOSE_TRY_AGAIN_LATER = 1013


class FrameRate:
    """The contract's frame limit for one socket: `over()` is true from the 21st frame within
    any one second. The last 20 arrival times sit in a ring of floats, smaller than a deque of
    them, since every socket holds one."""

    __slots__ = ("_next", "_times")

    def __init__(self) -> None:
        self._times = array("d", [float("-inf")]) * WEBSOCKET_MAX_FRAMES_PER_SECOND
        self._next = 0

    def over(self, now: float) -> bool:
        # The slot about to be overwritten holds the time of the frame 20 frames ago.
        twenty_ago = self._times[self._next]
        self._times[self._next] = now
        self._next = (self._next + 1) % WEBSOCKET_MAX_FRAMES_PER_SECOND
        return now - twenty_ago < 1.0
