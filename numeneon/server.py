"""Daphne, with a graceful stop: `python -m numeneon.server` takes Daphne's own arguments.

It also enforces the contract's 64 KiB message limit and leaves access logging to the
application, whose lines never hold a query string (which may hold a credential).

On SIGTERM (a deploy on Render, a restart) every open WebSocket is closed with 1012
"service restart" before the process exits, so clients reconnect at once and resume with
`last_event_id` instead of waiting for a timeout. The WebSocket protocol also lets the
application close with the retryable codes 1012 and 1013, which autobahn's `sendClose`
refuses although RFC 6455's registry defines them for servers.

A socket whose frames do not go out, because its client stopped reading, is dropped after
WEBSOCKET_SEND_TIMEOUT seconds instead of piling them up in the process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import time
import types
from functools import partial
from pprint import pformat

import autobahn.websocket.protocol as autobahn_protocol
from daphne.cli import CommandLineInterface
from daphne.http_protocol import WebRequest
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import defer, reactor, task
from twisted.internet.protocol import connectionDone
from twisted.web.http import HTTPChannel

from numeneon.inbox import Inbox
from numeneon.limits import (
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_SERVICE_RESTART,
    CLOSE_TOO_MANY_FRAMES,
    CLOSE_TRY_AGAIN_LATER,
    MAX_REQUEST_BODY_BYTES,
    REQUEST_TOO_LARGE_MESSAGE,
    WEBSOCKET_MAX_FRAMES_PER_SECOND,
    WEBSOCKET_MAX_MESSAGE_BYTES,
    FrameRate,
)

logger = logging.getLogger("numeneon.server")

LISTEN_BACKLOG = int(os.environ.get("LISTEN_BACKLOG", "4096"))
# How long a client may take to send a request's headers (Twisted has no such limit).
HTTP_HEADERS_TIMEOUT_SECONDS = float(os.environ.get("HTTP_HEADERS_TIMEOUT", "10"))
# And its body, once the headers are in (the body limit is 2.5 MB).
HTTP_BODY_TIMEOUT_SECONDS = float(os.environ.get("HTTP_BODY_TIMEOUT", "30"))
# How long a handshake may wait for the application to accept (Daphne's default: 5 s).
WEBSOCKET_CONNECT_TIMEOUT_SECONDS = int(os.environ.get("WEBSOCKET_CONNECT_TIMEOUT", "60"))
# Daphne's keepalive: a ping to a socket silent this long, and the connection dropped when its
# pong has not come this long after (Daphne's defaults: 20 and 30 s). A client that stopped
# reading and sending is dropped that way; one that still sends, by the send timeout below.
WEBSOCKET_PING_INTERVAL_SECONDS = int(os.environ.get("WEBSOCKET_PING_INTERVAL", "20"))
WEBSOCKET_PING_TIMEOUT_SECONDS = int(os.environ.get("WEBSOCKET_PING_TIMEOUT", "30"))
# A socket whose frames have not all gone out for this long is dropped: its client stopped
# reading (or reads slower than its events come), and what it was sent would pile up here.
WEBSOCKET_SEND_TIMEOUT_SECONDS = float(os.environ.get("WEBSOCKET_SEND_TIMEOUT", "60"))
# How long a stopping server waits for clients to answer its close frames.
SHUTDOWN_GRACE_SECONDS = 3.0


class _FormattedIfLogged:
    """pformat(obj), computed only when a log line that holds it is written."""

    __slots__ = ("obj",)

    def __init__(self, obj) -> None:
        self.obj = obj

    def __str__(self) -> str:
        return pformat(self.obj)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


# The contract's error body (numeneon.errors.error_body needs Django, set up later).
_TOO_LARGE_BODY = json.dumps(
    {
        "detail": REQUEST_TOO_LARGE_MESSAGE,
        "error": REQUEST_TOO_LARGE_MESSAGE,
        "code": "request_too_large",
    }
).encode()
_TOO_LARGE_RESPONSE = (
    b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_TOO_LARGE_BODY), _TOO_LARGE_BODY)
)
# How long the rest of a refused body is read and dropped before the connection is cut.
BODY_LINGER_SECONDS = 5


class NumeneonWebRequest(WebRequest):
    """Daphne's request, without Twisted's parsing of form bodies into `request.args`, which
    Daphne never reads. Twisted parsed the Content-Type of every POST with the email package
    (27 us a POST, and 3.4 % of a message's CPU in a profile that counts the garbage collections
    its allocations set off), parsed a multipart body on the event loop, and
    answered a malformed one itself with an empty 400 and a dropped connection instead of the
    contract's error body."""

    _body_bytes = 0
    _too_large = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)

    # A body over MAX_REQUEST_BODY_BYTES is refused as soon as it passes the limit, whether its
    # length is declared or not. Twisted wrote a chunked body whole to a temporary file, and
    # Django, which checks only a declared Content-Length, read it all into memory for a 400.
    def gotLength(self, length):
        super().gotLength(length)
        if length is not None and length > MAX_REQUEST_BODY_BYTES:
            # Twisted would answer "Expect: 100-continue" after this, past the final answer.
            self.requestHeaders.removeHeader(b"expect")
            self.refuse_too_large()

    def handleContentChunk(self, data):
        if self._too_large:
            return
        self._body_bytes += len(data)
        if self._body_bytes > MAX_REQUEST_BODY_BYTES:
            self.refuse_too_large()
            return
        super().handleContentChunk(data)

    def process(self):
        if self._too_large:
            return
        if self._body_bytes and not self.requestHeaders.hasHeader(b"content-length"):
            # A chunked body, whole now: Django reads only as much body as Content-Length
            # says, so without one it saw none.
            self.requestHeaders.removeHeader(b"transfer-encoding")
            self.requestHeaders.setRawHeaders(b"content-length", [b"%d" % self._body_bytes])
        super().process()

    def refuse_too_large(self) -> None:
        if self._too_large:
            return
        self._too_large = True
        self.content.close()
        transport = self.channel.transport
        transport.write(_TOO_LARGE_RESPONSE)
        # Like nginx's lingering close: the rest of the body is read and dropped for a while,
        # so that a client still sending gets to read the answer instead of a reset.
        self.channel.dataReceived = lambda data: None
        if hasattr(transport, "loseWriteConnection"):
            transport.loseWriteConnection()
        else:
            transport.loseConnection()
        reactor.callLater(BODY_LINGER_SECONDS, transport.abortConnection)


class _DrainWatch:
    """A socket's streaming producer, as Twisted sees it. Twisted pauses it when more than its
    buffer size (64 KiB) waits to be sent, and resumes it once everything went. A socket that
    stays paused for WEBSOCKET_SEND_TIMEOUT seconds is dropped, and its client resumes from its
    last event id when it comes back.

    The keepalive alone does not catch such a client: any frame it sends (the client library's
    own ping, say) resets Daphne's ping clock, so a client that sends but never reads would
    never be dropped."""

    __slots__ = ("_clock", "_protocol", "_timer")

    def __init__(self, protocol: WebSocketProtocol, clock=reactor) -> None:
        self._protocol = protocol
        self._clock = clock
        self._timer = None

    def pauseProducing(self) -> None:
        if self._timer is None:  # Twisted calls it again on every write while full
            self._timer = self._clock.callLater(WEBSOCKET_SEND_TIMEOUT_SECONDS, self._drop)

    def resumeProducing(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def stopProducing(self) -> None:  # the connection is gone
        self.resumeProducing()

    def _drop(self) -> None:
        self._timer = None
        if self._protocol.state == WebSocketProtocol.STATE_CLOSED:
            return
        logger.info(
            "Dropped a WebSocket whose frames had not gone out for %g s",
            WEBSOCKET_SEND_TIMEOUT_SECONDS,
        )
        self._protocol.dropConnection(abort=True)  # unregisters this producer first


# The reasons autobahn gives when its own handshake check refuses an Origin header.
_AUTOBAHN_ORIGIN_REFUSALS = (
    "HTTP Origin header invalid",
    "HTTP Origin header appears more than once",
    "WebSocket connection denied: origin",
)


class NumeneonHTTPChannel(HTTPChannel):
    """Twisted's HTTP/1.1 channel with deadlines: a request's headers must be complete within
    HTTP_HEADERS_TIMEOUT seconds of the connection (or of the first byte of a later request on
    it), and its body within HTTP_BODY_TIMEOUT of the headers. Twisted's idle timeout restarts
    with every byte, so a client sending a byte at a time held a connection (and a descriptor)
    for as long as it liked. A body's bytes on the wire, chunk framing and extensions
    included, are capped too (twice the body limit): extensions of one-byte chunks could
    carry a thousand times the body."""

    _deadline = None
    _body_wire_bytes: int | None = None  # counted while a body is being received

    def connectionMade(self):
        super().connectionMade()
        self._start_deadline(HTTP_HEADERS_TIMEOUT_SECONDS)

    def dataReceived(self, data):
        if self.line_mode and self._deadline is None:
            self._start_deadline(HTTP_HEADERS_TIMEOUT_SECONDS)  # a later kept-alive request
        super().dataReceived(data)

    def allHeadersReceived(self):
        self._stop_deadline()
        self._body_wire_bytes = 0
        self._start_deadline(HTTP_BODY_TIMEOUT_SECONDS)  # stopped at once when there is none
        super().allHeadersReceived()

    def rawDataReceived(self, data):
        if self._body_wire_bytes is not None:
            self._body_wire_bytes += len(data)
            if self._body_wire_bytes > 2 * MAX_REQUEST_BODY_BYTES and self.requests:
                self._body_wire_bytes = None
                self.requests[-1].refuse_too_large()
                return
        super().rawDataReceived(data)

    def allContentReceived(self):
        self._stop_deadline()
        self._body_wire_bytes = None
        super().allContentReceived()

    def connectionLost(self, reason):
        self._stop_deadline()
        super().connectionLost(reason)

    def _start_deadline(self, seconds: float) -> None:
        self._deadline = reactor.callLater(seconds, self._too_slow)

    def _stop_deadline(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport is not None:
            self.transport.abortConnection()


class NumeneonWebSocketProtocol(WebSocketProtocol):
    _drain_watch: _DrainWatch | None = None
    _frame_rate: FrameRate | None = None
    # Registered codes a server sends that autobahn's sendClose() refuses.
    _REGISTERED_SERVER_CODES = frozenset(
        {CLOSE_MESSAGE_TOO_BIG, CLOSE_SERVICE_RESTART, CLOSE_TRY_AGAIN_LATER}
    )

    def connectionMade(self):
        super().connectionMade()
        # Daphne hands the TCP connection over from the HTTPChannel that read the upgrade
        # request, and that channel stays registered as the transport's producer: it kept
        # itself and the request (headers, body buffer) for the socket's life, ~3 KB. It
        # also paused reading from a client whose socket stopped draining our frames, for
        # good (HTTPChannel does not resume after an upgrade); now reading goes on, so its
        # close frame and the frame-rate limit still reach the consumer.
        if isinstance(getattr(self.transport, "producer", None), HTTPChannel):
            self.transport.unregisterProducer()
        if getattr(self.transport, "producer", False) is None:
            self._drain_watch = _DrainWatch(self)
            self.registerProducer(self._drain_watch, True)

    def connectionLost(self, reason=connectionDone):
        # Twisted stops only a producer still registered, and autobahn unregisters it when it
        # drops the connection itself (a ping or close timeout): its timer would outlive the
        # socket, keep the protocol for up to the send timeout, and log a drop that never was.
        if self._drain_watch is not None:
            self._drain_watch.stopProducing()
        super().connectionLost(reason)

    def _connectionMade(self):
        # autobahn pretty-prints its options for a debug line on every connection,
        # before the logger decides whether debug is on: 4.5 % of a connect's CPU. Within
        # this call that line is its only use of pformat (the module's other uses return
        # a str, so the module keeps the real one outside it).
        previous, autobahn_protocol.pformat = autobahn_protocol.pformat, _FormattedIfLogged
        try:
            super()._connectionMade()
        finally:
            autobahn_protocol.pformat = previous

    def onOpen(self):
        super().onOpen()
        # The opening handshake (raw request and response, parsed headers and query), which
        # autobahn keeps for the socket's life and reads no more: ~1.8 KB.
        self.http_request_data = self.http_response_data = None
        self.http_status_line = self.http_request_uri = None
        self.http_headers = self.http_request_params = None
        self.request.headers = None  # the same dict as http_headers; Daphne reads .path

    def onFrameBegin(self):
        super().onFrameBegin()
        # Every frame counts toward the contract's limit, control frames included: autobahn
        # answers pings itself, below the consumer, so a ping flood never reached its count
        # and a few flooding sockets kept the process busy answering them.
        if self.state != WebSocketProtocol.STATE_OPEN:
            return
        if self._frame_rate is None:
            self._frame_rate = FrameRate()
        if self._frame_rate.over(time.monotonic()):
            logger.info(
                "Closed a WebSocket that sent more than %d frames within a second",
                WEBSOCKET_MAX_FRAMES_PER_SECOND,
            )
            # Closing: autobahn answers no more pings, and drops the connection if the
            # client does not answer the close within its close handshake timeout (1 s).
            self.sendCloseFrame(code=CLOSE_TOO_MANY_FRAMES, isReply=False)

    def failHandshake(self, reason: str, code: int = 400, responseHeaders=None):
        # autobahn checks the Origin header before the application can (channels'
        # OriginValidator answers 403): a header it cannot parse ("http://[::1", a port out of
        # range, two origins), one given twice, or "null" got its 400. The contract says 403.
        if reason.startswith(_AUTOBAHN_ORIGIN_REFUSALS):
            reason, code = "Access denied", 403
        super().failHandshake(reason, code, responseHeaders)

    def serverClose(self, code=None):
        if code in self._REGISTERED_SERVER_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            super().serverClose(code)


class NumeneonServer(Server):
    def __init__(self, *args, **kwargs) -> None:
        # Twisted listens with a backlog of 50: a burst of connects (every client of a
        # restarted server at once) overflowed it. -e endpoints that set their own keep it.
        kwargs["endpoints"] = [
            f"{endpoint}:backlog={LISTEN_BACKLOG}"
            if endpoint.startswith("tcp:") and "backlog=" not in endpoint
            else endpoint
            for endpoint in kwargs.get("endpoints") or []
        ]
        # The contract's limit: autobahn closes with 1009 before the message is buffered.
        kwargs["websocket_max_message_size"] = min(
            kwargs.get("websocket_max_message_size") or WEBSOCKET_MAX_MESSAGE_BYTES,
            WEBSOCKET_MAX_MESSAGE_BYTES,
        )
        if kwargs.get("proxy_forwarded_address_header"):
            # Daphne would take the first X-Forwarded-For entry, which the client writes.
            logger.warning(
                "--proxy-headers is ignored: the client address comes from TRUSTED_PROXY_COUNT "
                "and TRUSTED_PROXY_NETWORKS (numeneon.clientaddr)"
            )
        kwargs["proxy_forwarded_address_header"] = None
        kwargs["proxy_forwarded_port_header"] = None
        super().__init__(*args, **kwargs)
        # Connections application_checker must look at: disconnected, or application done.
        self._to_check: set = set()

    def create_application(self, protocol, scope):
        """Daphne's (4.2), with an Inbox for the application's messages instead of an
        asyncio.Queue (numeneon.inbox: ~3 KB less per open socket)."""
        assert "application_instance" not in self.connections[protocol]
        input_queue = Inbox()
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(
            scope=scope,
            receive=input_queue.get,
            send=partial(self.handle_reply, protocol),
        )
        if protocol not in self.connections:
            return None
        future = asyncio.ensure_future(application_instance, loop=asyncio.get_event_loop())
        self.connections[protocol]["application_instance"] = future
        future.add_done_callback(lambda _: self._to_check.add(protocol))
        return input_queue

    def protocol_disconnected(self, protocol):
        super().protocol_disconnected(protocol)
        self._to_check.add(protocol)

    def application_checker(self):
        """Daphne's, run over the connections that changed instead of all of them: Daphne walks
        every connection every second (3.4 % of the CPU in a 5,000-socket reconnect storm, and
        it grows with the sockets held). Only a disconnected connection or a finished
        application has anything to clean up; both tell us (protocol_disconnected, the
        application's done callback)."""
        everything = self.connections
        self.connections = {p: everything[p] for p in self._to_check if p in everything}
        try:
            super().application_checker()  # reschedules itself, through this method
        finally:
            checked, self.connections = self.connections, everything
            for protocol in list(self._to_check):
                if protocol not in checked:  # cleaned up by Daphne (or gone already)
                    everything.pop(protocol, None)
                    self._to_check.discard(protocol)
                elif "disconnected" not in everything[protocol]:
                    # Its application ended; it is looked at again when it disconnects.
                    self._to_check.discard(protocol)

    def log_action(self, protocol, action, details):
        """Daphne's access log is replaced by the application's own lines (AccessLogMiddleware
        and the consumer's socket lines), which carry the user id and never a query string;
        Daphne's would print full URIs, with any ?token= in them."""

    def run(self):
        reactor.callWhenRunning(self._use_our_protocol)
        # Registered before Daphne's own trigger, which cancels the applications.
        reactor.addSystemEventTrigger("before", "shutdown", self.close_websockets)
        super().run()

    def _use_our_protocol(self) -> None:
        build_http_protocol = self.http_factory.buildProtocol

        def build_protocol(addr):
            protocol = build_http_protocol(addr)  # Daphne's, which sets its WebRequest
            protocol.requestFactory = NumeneonWebRequest
            return protocol

        self.http_factory.buildProtocol = build_protocol
        # Plain HTTP/1.1: Twisted's generic channel only adds HTTP/2 negotiation over TLS.
        self.http_factory.protocol = NumeneonHTTPChannel
        self.ws_factory.protocol = NumeneonWebSocketProtocol
        # Send the close frame (1009 for an oversized message) instead of dropping the TCP
        # connection, which a browser would only see as 1006.
        self.ws_factory.setProtocolOptions(failByDrop=False)
        # autobahn copies the factory's 29 options into every protocol's __dict__ unless the
        # protocol already has them: as class attributes they are shared (~2 KB a socket).
        # Options set on the factory after this point would not reach new protocols.
        for name in NumeneonWebSocketProtocol.CONFIG_ATTRS:
            value = getattr(self.ws_factory, name)
            # A function (perMessageCompressionAccept) must not become a method.
            setattr(
                NumeneonWebSocketProtocol,
                name,
                staticmethod(value) if isinstance(value, types.FunctionType) else value,
            )

    def close_websockets(self):
        sockets = [
            protocol
            for protocol in list(self.connections)
            if isinstance(protocol, WebSocketProtocol)
            and protocol.state == WebSocketProtocol.STATE_OPEN
        ]
        for protocol in sockets:
            protocol.sendCloseFrame(code=CLOSE_SERVICE_RESTART, isReply=False)
        logger.info("Shutting down: closed %d WebSocket(s) with 1012", len(sockets))
        if not sockets:
            return None
        return self._wait_until_closed(sockets)

    @defer.inlineCallbacks
    def _wait_until_closed(self, sockets):
        waited = 0.0
        while waited < SHUTDOWN_GRACE_SECONDS and any(
            protocol.state != WebSocketProtocol.STATE_CLOSED for protocol in sockets
        ):
            yield task.deferLater(reactor, 0.05, lambda: None)
            waited += 0.05


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
    server_class = NumeneonServer

    def __init__(self) -> None:
        super().__init__()
        # Daphne refuses a handshake that the application has not accepted within 5 s. In a
        # reconnect storm (every client of a restarted process at once) accepting takes
        # longer than that, every refused client retries, and the process never catches up:
        # 0 of 5,000 clients got back in bench.storm. The clients wait instead.
        self.parser.set_defaults(
            websocket_connect_timeout=WEBSOCKET_CONNECT_TIMEOUT_SECONDS,
            ping_interval=WEBSOCKET_PING_INTERVAL_SECONDS,
            ping_timeout=WEBSOCKET_PING_TIMEOUT_SECONDS,
        )


if __name__ == "__main__":
    raise_descriptor_limit()
    NumeneonCommandLineInterface.entrypoint()
