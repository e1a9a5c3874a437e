"""Daphne as this project runs it: `python -m numeneon.server` takes Daphne's own arguments.

This module is configuration only: the options, timeouts and limits Daphne is started with, read
from the environment through numeneon.env. Every change to Daphne's, autobahn's and Twisted's
internals (the body limit and request deadlines, the send timeout, the frame limit, the close
codes autobahn refuses, the graceful stop with 1012 on SIGTERM) lives in numeneon.upstream_patches.
"""

from __future__ import annotations

import logging
import resource

from daphne.cli import CommandLineInterface

from numeneon.env import envfloat, envint
from numeneon.limits import WEBSOCKET_MAX_MESSAGE_BYTES
from numeneon.upstream_patches import PatchedServer

logger = logging.getLogger("numeneon.server")

# The listen queue of TCP endpoints: Twisted's is 50, which a burst of connects (every client of
# a restarted server at once) overflows.
LISTEN_BACKLOG = envint("LISTEN_BACKLOG", 4096)
# How long a client may take to send a request's headers (Twisted has no such limit).
HTTP_HEADERS_TIMEOUT_SECONDS = envfloat("HTTP_HEADERS_TIMEOUT", 10.0)
# And its body, once the headers are in (the body limit is 2.5 MB).
HTTP_BODY_TIMEOUT_SECONDS = envfloat("HTTP_BODY_TIMEOUT", 30.0)
# How long the rest of a refused body is read and dropped before the connection is cut, so that
# a client still sending gets to read the 413.
BODY_LINGER_SECONDS = 5
# How long a handshake may wait for the application to accept (Daphne's default: 5 s). In a
# reconnect storm (every client of a restarted process at once) accepting takes longer than that,
# every refused client retries, and the process never catches up; the clients wait instead.
WEBSOCKET_CONNECT_TIMEOUT_SECONDS = envint("WEBSOCKET_CONNECT_TIMEOUT", 60)
# Daphne's keepalive: a ping to a socket silent this long, and the connection dropped when its
# pong has not come this long after (Daphne's defaults: 20 and 30 s). A client that stopped
# reading and sending is dropped that way; one that still sends, by the send timeout below.
WEBSOCKET_PING_INTERVAL_SECONDS = envint("WEBSOCKET_PING_INTERVAL", 20)
WEBSOCKET_PING_TIMEOUT_SECONDS = envint("WEBSOCKET_PING_TIMEOUT", 30)
# A socket whose frames have not all gone out for this long is dropped: its client stopped
# reading (or reads slower than its events come), and what it was sent would pile up here.
WEBSOCKET_SEND_TIMEOUT_SECONDS = envfloat("WEBSOCKET_SEND_TIMEOUT", 60.0)
# How long a stopping server waits for clients to answer its close frames.
SHUTDOWN_GRACE_SECONDS = 3.0
# autobahn's options beyond Daphne's: send the close frame (1009 for an oversized message)
# instead of dropping the TCP connection, which a browser would only see as 1006.
WEBSOCKET_PROTOCOL_OPTIONS = {"failByDrop": False}


def with_backlog(endpoint: str) -> str:
    """A TCP endpoint listening with LISTEN_BACKLOG, unless it sets its own backlog."""
    if endpoint.startswith("tcp:") and "backlog=" not in endpoint:
        return f"{endpoint}:backlog={LISTEN_BACKLOG}"
    return endpoint


class NumeneonServer(PatchedServer):
    """Daphne's Server, given this project's options on top of those from the command line."""

    def __init__(self, *args, **options) -> None:
        options["endpoints"] = [
            with_backlog(endpoint) for endpoint in options.get("endpoints") or []
        ]
        # The contract's limit: autobahn closes with 1009 before the message is buffered.
        options["websocket_max_message_size"] = min(
            options.get("websocket_max_message_size") or WEBSOCKET_MAX_MESSAGE_BYTES,
            WEBSOCKET_MAX_MESSAGE_BYTES,
        )
        if options.get("proxy_forwarded_address_header"):
            # Daphne would take the first X-Forwarded-For entry, which the client writes.
            logger.warning(
                "--proxy-headers is ignored: the client address comes from TRUSTED_PROXY_COUNT "
                "and TRUSTED_PROXY_NETWORKS (numeneon.clientaddr)"
            )
        options["proxy_forwarded_address_header"] = None
        options["proxy_forwarded_port_header"] = None
        # No access log from Daphne: the application writes its own lines (AccessLogMiddleware
        # and the consumer's socket lines), which carry the user id and never a query string;
        # Daphne's would print full URIs, with any ?token= in them.
        options["action_logger"] = None
        super().__init__(
            *args,
            http_headers_timeout=HTTP_HEADERS_TIMEOUT_SECONDS,
            http_body_timeout=HTTP_BODY_TIMEOUT_SECONDS,
            body_linger_timeout=BODY_LINGER_SECONDS,
            websocket_send_timeout=WEBSOCKET_SEND_TIMEOUT_SECONDS,
            shutdown_grace_timeout=SHUTDOWN_GRACE_SECONDS,
            websocket_protocol_options=WEBSOCKET_PROTOCOL_OPTIONS,
            **options,
        )


def raise_descriptor_limit() -> int:
    """Raise the soft limit of open descriptors to the hard limit (children inherit it); the
    new soft limit. Every socket is a descriptor, and the usual soft limit of 1,024 refused
    connections long before memory ran out."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class NumeneonCommandLineInterface(CommandLineInterface):
    """Daphne's command line, starting a NumeneonServer, with this project's defaults (the
    arguments still override them)."""

    server_class = NumeneonServer

    def __init__(self) -> None:
        super().__init__()
        self.parser.set_defaults(
            websocket_connect_timeout=WEBSOCKET_CONNECT_TIMEOUT_SECONDS,
            ping_interval=WEBSOCKET_PING_INTERVAL_SECONDS,
            ping_timeout=WEBSOCKET_PING_TIMEOUT_SECONDS,
        )


if __name__ == "__main__":
    raise_descriptor_limit()
    NumeneonCommandLineInterface.entrypoint()
