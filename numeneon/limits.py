"""Limits of the contract shared by the server process and the consumer (no Django imports)."""

WEBSOCKET_MAX_MESSAGE_BYTES = 64 * 1024
WEBSOCKET_MAX_FRAMES_PER_SECOND = 20
WS_TICKET_LIFETIME_SECONDS = 30
