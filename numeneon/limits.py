"""Limits and close codes of the contract shared by the server process and the consumer (no
Django imports: numeneon.server reads them before Django is set up)."""

WEBSOCKET_MAX_MESSAGE_BYTES = 64 * 1024
WEBSOCKET_MAX_FRAMES_PER_SECOND = 20
WS_TICKET_LIFETIME_SECONDS = 30
# Arrays and objects inside one another, in a request body or a socket frame: the contract's
# bodies nest three deep; Python's JSON decoder recurses and fails near a thousand.
MAX_JSON_DEPTH = 32

# Registered close codes the application sends; numeneon.server lets them through autobahn,
# whose sendClose() accepts only 1000 and 3000-4999.
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_SERVICE_RESTART = 1012
# "Try again later": retryable, unlike 4000-4099.
CLOSE_TRY_AGAIN_LATER = 1013
