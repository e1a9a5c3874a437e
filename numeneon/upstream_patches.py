"""Every change this project makes to the internals of Daphne, autobahn and Twisted.

Each patch says why in one line and names the upstream issue it works around, or says that none
was found and what upstream does. They were written against PATCHED_AGAINST: a test fails as soon
as an installed or pinned version differs, so that each patch is re-checked before a version moves.
The values the patches use (timeouts, WebSocket options) are configuration, given by
numeneon.server; the contract's own limits come from numeneon.limits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import types
from functools import partial
from pprint import pformat

import autobahn.websocket.protocol as autobahn_protocol
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
    FrameRate,
)

logger = logging.getLogger("numeneon.server")  # the server's lines, wherever their code lives

# The distributions' versions each patch below was read against (names as in requirements.txt).
PATCHED_AGAINST = {"daphne": "4.2.3", "autobahn": "26.10.2", "Twisted": "26.10.0"}


class FormattedIfLogged:
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


class PatchedWebRequest(WebRequest):
    """Daphne's request, with a body limit and without form parsing."""

    _body_bytes = 0
    _too_large = False

    # Why: Daphne never reads `request.args`, yet Twisted parsed every form POST (a multipart
    # body on the event loop) and answered one it could not parse with its own empty 400.
    # Upstream: twisted/twisted#9739 (open: Twisted's own 400 for a multipart body); Twisted
    # offers parsePOSTFormSubmission=False, which Daphne's HTTPFactory does not pass.
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)

    # Why: a body over MAX_REQUEST_BODY_BYTES is refused as soon as it passes the limit, declared
    # or chunked; Twisted wrote a chunked body whole to a temporary file, and Django, which
    # checks only a declared Content-Length, read all of it into memory for a 400.
    # Upstream: twisted/twisted#4898 (open: "twisted.web server has no way to limit size of
    # request body"); twisted/twisted#4673 made Twisted answer "Expect: 100-continue" itself.
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

    # Why: Django reads only as much body as Content-Length says, so a chunked body reached the
    # application empty; once whole, it is given the length it has.
    # Upstream: django/daphne#476 (closed: "Requests with Transfer-Encoding: chunked have no
    # content"); Daphne passes the body on, Django's request does not read past Content-Length.
    def process(self):
        if self._too_large:
            return
        if self._body_bytes and not self.requestHeaders.hasHeader(b"content-length"):
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
        reactor.callLater(self.server.body_linger_timeout, transport.abortConnection)


class PatchedHTTPChannel(HTTPChannel):
    """Twisted's HTTP/1.1 channel with deadlines for a request's headers and body, and a cap on a
    body's bytes on the wire.

    Why: Twisted's timeout is an idle timeout that every byte restarts, so a client sending a
    byte at a time held a connection (and a descriptor) for as long as it liked.
    Upstream: no upstream issue found; Twisted's only timeout for a request being received is
    that idle one (HTTPChannel.timeOut).

    Why (wire cap): extensions of one-byte chunks carried a thousand times the body they framed.
    Upstream: no upstream issue found; Twisted bounds each chunk-size line to 4 KiB
    (twisted/twisted#10144), not their total.

    Daphne's factory builds Twisted's generic channel, which only adds HTTP/2 negotiation over
    TLS; this plain HTTP/1.1 channel replaces it (PatchedServer._install_patches).
    """

    _deadline = None
    _body_wire_bytes: int | None = None  # counted while a body is being received

    def connectionMade(self):
        super().connectionMade()
        self._start_deadline(self.factory.server.http_headers_timeout)

    def dataReceived(self, data):
        if self.line_mode and self._deadline is None:
            # A later kept-alive request: its headers have their own deadline.
            self._start_deadline(self.factory.server.http_headers_timeout)
        super().dataReceived(data)

    def allHeadersReceived(self):
        self._stop_deadline()
        self._body_wire_bytes = 0
        # Stopped at once when there is no body.
        self._start_deadline(self.factory.server.http_body_timeout)
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


class DrainWatch:
    """A socket's streaming producer, as Twisted sees it. Twisted pauses it when more than its
    buffer size (64 KiB) waits to be sent, and resumes it once everything went. A socket that
    stays paused for `timeout` seconds is dropped, and its client resumes from its last event id
    when it comes back.

    The keepalive alone does not catch such a client: any frame it sends (the client library's
    own ping, say) resets Daphne's ping clock, so a client that sends but never reads would
    never be dropped."""

    __slots__ = ("_clock", "_protocol", "_timeout", "_timer")

    def __init__(self, protocol: WebSocketProtocol, timeout: float, clock=reactor) -> None:
        self._protocol = protocol
        self._timeout = timeout
        self._clock = clock
        self._timer = None

    def pauseProducing(self) -> None:
        if self._timer is None:  # Twisted calls it again on every write while full
            self._timer = self._clock.callLater(self._timeout, self._drop)

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
            self._timeout,
        )
        self._protocol.dropConnection(abort=True)  # unregisters this producer first


# The reasons autobahn gives when its own handshake check refuses an Origin header.
_AUTOBAHN_ORIGIN_REFUSALS = (
    "HTTP Origin header invalid",
    "HTTP Origin header appears more than once",
    "WebSocket connection denied: origin",
)


class PatchedWebSocketProtocol(WebSocketProtocol):
    _drain_watch: DrainWatch | None = None
    _frame_rate: FrameRate | None = None
    # Registered codes a server sends that autobahn's sendClose() refuses.
    _REGISTERED_SERVER_CODES = frozenset(
        {CLOSE_MESSAGE_TOO_BIG, CLOSE_SERVICE_RESTART, CLOSE_TRY_AGAIN_LATER}
    )

    # Why: a client that stopped reading made the process hold every frame it was sent.
    # Upstream: django/daphne#170 (open: "TCP bufferbloat if WebSocket server keeps pushing
    # data quickly to a slow client"), which suggests this producer.
    def connectionMade(self):
        super().connectionMade()
        # The HTTPChannel that read the upgrade request stays the transport's producer: it kept
        # itself and the request for the socket's life, and paused reading for good once our
        # frames stopped draining, so that the client's close frame and the frame limit no
        # longer reached the consumer. A DrainWatch takes its place.
        if isinstance(getattr(self.transport, "producer", None), HTTPChannel):
            self.transport.unregisterProducer()
        if getattr(self.transport, "producer", False) is None:
            self._drain_watch = DrainWatch(self, self.factory.server_class.websocket_send_timeout)
            self.registerProducer(self._drain_watch, True)

    def connectionLost(self, reason=connectionDone):
        # Twisted stops only a producer still registered, and autobahn unregisters it when it
        # drops the connection itself (a ping or close timeout): its timer would outlive the
        # socket, keep the protocol for up to the send timeout, and log a drop that never was.
        if self._drain_watch is not None:
            self._drain_watch.stopProducing()
        super().connectionLost(reason)

    # Why: autobahn pretty-prints its options for a debug line on every connection, before the
    # logger decides whether debug is on; within this call that line is its only use of pformat
    # (the module's other uses need a str, so the real one is put back after it).
    # Upstream: no upstream issue found; autobahn calls pformat eagerly in _connectionMade.
    def _connectionMade(self):
        previous, autobahn_protocol.pformat = autobahn_protocol.pformat, FormattedIfLogged
        try:
            super()._connectionMade()
        finally:
            autobahn_protocol.pformat = previous

    # Why: autobahn keeps the opening handshake (raw request and response, parsed headers and
    # query) for the socket's life and reads it no more.
    # Upstream: crossbario/autobahn-python#640 (open: "Reduce WebSocket connection memory
    # footprint").
    def onOpen(self):
        super().onOpen()
        self.http_request_data = self.http_response_data = None
        self.http_status_line = self.http_request_uri = None
        self.http_headers = self.http_request_params = None
        self.request.headers = None  # the same dict as http_headers; Daphne reads .path

    # Why: the contract's frame limit counts every frame, control frames included; autobahn
    # answers pings itself, below the consumer, so a ping flood never reached its count and a few
    # flooding sockets kept the process busy answering them.
    # Upstream: no upstream issue found; autobahn answers every ping and has no frame rate limit.
    def onFrameBegin(self):
        super().onFrameBegin()
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

    # Why: autobahn checks the Origin header before the application can (channels'
    # OriginValidator answers 403), and answered one it cannot parse ("http://[::1", a port out
    # of range, two origins), one given twice, or "null" with 400; the contract says 403.
    # Upstream: no upstream issue found; autobahn fails such handshakes with 400 (the answer
    # reported for "file://" in django/daphne#72).
    def failHandshake(self, reason: str, code: int = 400, responseHeaders=None):
        if reason.startswith(_AUTOBAHN_ORIGIN_REFUSALS):
            reason, code = "Access denied", 403
        super().failHandshake(reason, code, responseHeaders)

    # Why: the application closes with 1009, 1012 and 1013, registered for servers by RFC 6455's
    # registry, which autobahn's sendClose() refuses (it takes 1000 and 3000-4999 only).
    # Upstream: crossbario/autobahn-python#1642 (open: "Allign websocket close codes with RFC").
    def serverClose(self, code=None):
        if code in self._REGISTERED_SERVER_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            super().serverClose(code)


class PatchedServer(Server):
    """Daphne's Server with the patched protocols above, an Inbox per application, an
    application checker over the connections that changed, and a graceful stop.

    Besides Daphne's own arguments it takes the values the patches use: seconds for a request's
    headers and body, for the rest of a refused body, for a socket's unsent frames and for
    clients to answer the close frames of a stopping server, and autobahn protocol options set
    before the protocols' options are fixed."""

    def __init__(
        self,
        *args,
        http_headers_timeout: float,
        http_body_timeout: float,
        body_linger_timeout: float,
        websocket_send_timeout: float,
        shutdown_grace_timeout: float,
        websocket_protocol_options: dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.http_headers_timeout = http_headers_timeout
        self.http_body_timeout = http_body_timeout
        self.body_linger_timeout = body_linger_timeout
        self.websocket_send_timeout = websocket_send_timeout
        self.shutdown_grace_timeout = shutdown_grace_timeout
        self.websocket_protocol_options = dict(websocket_protocol_options or {})
        # Connections application_checker must look at: disconnected, or application done.
        self._to_check: set = set()

    # Why: Daphne gives every application instance an asyncio.Queue, which holds three empty
    # deques and an Event with a fourth for the socket's life; an Inbox holds nothing while idle.
    # Upstream: no upstream issue found; Daphne's create_application builds the queue inline.
    # The rest is Daphne's create_application, plus the done callback application_checker needs.
    def create_application(self, protocol, scope):
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

    # Why: Daphne walks every connection every second, a cost that grows with the sockets held;
    # only a disconnected connection or a finished application has anything to clean up, and
    # both say so (protocol_disconnected, the application's done callback).
    # Upstream: no upstream issue found; Daphne's application_checker loops over all connections.
    def application_checker(self):
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

    def run(self):
        reactor.callWhenRunning(self._install_patches)
        # Registered before Daphne's own trigger, which cancels the applications.
        reactor.addSystemEventTrigger("before", "shutdown", self.close_websockets)
        super().run()

    # Why: Daphne's factories hard-code its own protocols (HTTPFactory.buildProtocol sets
    # WebRequest), so the patched ones are put in once Daphne has built its factories.
    # Upstream: no upstream issue found; Daphne has no setting for its protocol classes.
    def _install_patches(self) -> None:
        build_http_protocol = self.http_factory.buildProtocol

        def build_protocol(addr):
            protocol = build_http_protocol(addr)  # Daphne's, which sets its WebRequest
            protocol.requestFactory = PatchedWebRequest
            return protocol

        self.http_factory.buildProtocol = build_protocol
        self.http_factory.protocol = PatchedHTTPChannel
        self.ws_factory.protocol = PatchedWebSocketProtocol
        self.ws_factory.setProtocolOptions(**self.websocket_protocol_options)
        # Why: autobahn copies the factory's options into every protocol's __dict__ unless the
        # protocol already has them; as class attributes they are shared by all sockets.
        # Options set on the factory after this point would not reach new protocols.
        # Upstream: crossbario/autobahn-python#640 (open: "Reduce WebSocket connection memory
        # footprint").
        for name in PatchedWebSocketProtocol.CONFIG_ATTRS:
            value = getattr(self.ws_factory, name)
            # A function (perMessageCompressionAccept) must not become a method.
            setattr(
                PatchedWebSocketProtocol,
                name,
                staticmethod(value) if isinstance(value, types.FunctionType) else value,
            )

    # Why: on SIGTERM every open WebSocket gets 1012 "service restart", so clients reconnect at
    # once and resume with last_event_id instead of seeing 1006 and backing off.
    # Upstream: django/daphne#38 (closed: "SIGTERM should gracefully close websockets", left to
    # Twisted, whose shutdown drops the connections without a close frame).
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
        while waited < self.shutdown_grace_timeout and any(
            protocol.state != WebSocketProtocol.STATE_CLOSED for protocol in sockets
        ):
            yield task.deferLater(reactor, 0.05, lambda: None)
            waited += 0.05
