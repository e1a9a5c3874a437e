"""numeneon.server's defaults over Daphne's (its behaviour is tested end to end in tests/e2e)."""

from __future__ import annotations

import asyncio
import pprint
import resource
import time

import autobahn.websocket.protocol as autobahn_protocol
from daphne.ws_protocol import WebSocketFactory
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent

import numeneon.server as server_module
from numeneon.server import (
    WEBSOCKET_CONNECT_TIMEOUT_SECONDS,
    WEBSOCKET_SEND_TIMEOUT_SECONDS,
    NumeneonCommandLineInterface,
    NumeneonServer,
    NumeneonWebSocketProtocol,
    _DrainWatch,
    _FormattedIfLogged,
    raise_descriptor_limit,
)


def test_a_handshake_may_wait_a_minute_for_the_application_not_daphnes_5_s():
    # bench.storm: with 5 s, 0 of 5,000 clients reconnecting at once got back; with 60 s all.
    assert WEBSOCKET_CONNECT_TIMEOUT_SECONDS == 60
    cli = NumeneonCommandLineInterface()
    assert cli.parser.parse_args(["numeneon.asgi:application"]).websocket_connect_timeout == 60
    given = ["--websocket_connect_timeout", "7", "numeneon.asgi:application"]
    assert cli.parser.parse_args(given).websocket_connect_timeout == 7


def test_the_keepalive_comes_from_the_environment_and_the_command_line_overrides_it(
    monkeypatch,
):
    cli = NumeneonCommandLineInterface()
    args = cli.parser.parse_args(["numeneon.asgi:application"])
    assert (args.ping_interval, args.ping_timeout) == (20, 30)  # Daphne's own defaults
    monkeypatch.setattr(server_module, "WEBSOCKET_PING_INTERVAL_SECONDS", 1)
    monkeypatch.setattr(server_module, "WEBSOCKET_PING_TIMEOUT_SECONDS", 2)
    cli = NumeneonCommandLineInterface()
    args = cli.parser.parse_args(["numeneon.asgi:application"])
    assert (args.ping_interval, args.ping_timeout) == (1, 2)
    given = ["--ping-interval", "5", "--ping-timeout", "6", "numeneon.asgi:application"]
    args = cli.parser.parse_args(given)
    assert (args.ping_interval, args.ping_timeout) == (5, 6)


class DroppableProtocol:
    """What _DrainWatch uses of autobahn's protocol."""

    def __init__(self) -> None:
        self.drops: list[bool] = []
        self.state = NumeneonWebSocketProtocol.STATE_OPEN

    def dropConnection(self, abort: bool = False) -> None:
        self.drops.append(abort)


def test_a_socket_is_dropped_only_when_its_frames_stay_unsent_for_the_send_timeout():
    clock, protocol = Clock(), DroppableProtocol()
    watch = _DrainWatch(protocol, clock)
    watch.pauseProducing()
    clock.advance(WEBSOCKET_SEND_TIMEOUT_SECONDS - 1)
    watch.pauseProducing()  # Twisted pauses again on every write while the buffer is full
    clock.advance(0.5)
    watch.resumeProducing()  # everything went out in time
    clock.advance(WEBSOCKET_SEND_TIMEOUT_SECONDS)
    assert protocol.drops == []

    watch.pauseProducing()
    clock.advance(WEBSOCKET_SEND_TIMEOUT_SECONDS)
    assert protocol.drops == [True]  # aborted: its close frame could not get out either


def test_a_connection_lost_while_frames_wait_leaves_no_timer():
    clock, protocol = Clock(), DroppableProtocol()
    watch = _DrainWatch(protocol, clock)
    watch.pauseProducing()
    watch.stopProducing()
    assert clock.getDelayedCalls() == []
    clock.advance(WEBSOCKET_SEND_TIMEOUT_SECONDS)
    assert protocol.drops == []


def test_a_socket_closed_another_way_while_its_frames_wait_is_not_dropped_again():
    clock, protocol = Clock(), DroppableProtocol()
    watch = _DrainWatch(protocol, clock)
    watch.pauseProducing()
    protocol.state = NumeneonWebSocketProtocol.STATE_CLOSED  # e.g. autobahn's ping timeout
    clock.advance(WEBSOCKET_SEND_TIMEOUT_SECONDS)
    assert protocol.drops == []


class UnservedProtocol(NumeneonWebSocketProtocol):
    def onClose(self, wasClean, code, reason):
        """Daphne's tells its Server and application, which this test has none of."""


def test_the_drain_watch_stops_when_the_connection_is_lost_even_once_unregistered():
    # autobahn's dropConnection unregisters the producer, and Twisted then no longer stops it.
    protocol = UnservedProtocol()
    protocol.factory = WebSocketFactory(server_class=None)
    protocol.transport = StringTransport()
    protocol.connectionMade()
    watch = protocol.transport.producer
    assert isinstance(watch, _DrainWatch)
    watch.pauseProducing()
    protocol.transport.unregisterProducer()
    protocol.connectionLost()
    assert watch._timer is None


def test_tcp_endpoints_listen_with_a_deep_backlog_unless_they_set_one():
    server = NumeneonServer(
        application=None,
        endpoints=["tcp:port=8000:interface=127.0.0.1", "tcp:port=8001:backlog=10", "unix:/x"],
    )
    assert server.endpoints == [
        "tcp:port=8000:interface=127.0.0.1:backlog=4096",
        "tcp:port=8001:backlog=10",
        "unix:/x",
    ]
    assert server.websocket_max_message_size == 64 * 1024


def test_daphnes_proxy_headers_are_ignored_for_numeneon_clientaddr(caplog):
    # Daphne's --proxy-headers believes the first X-Forwarded-For entry, which the client
    # writes; the client address comes from numeneon.clientaddr instead.
    server = NumeneonServer(
        application=None,
        endpoints=["tcp:port=8000"],
        proxy_forwarded_address_header="X-Forwarded-For",
        proxy_forwarded_port_header="X-Forwarded-Port",
    )
    assert server.proxy_forwarded_address_header is None
    assert server.proxy_forwarded_port_header is None
    assert "--proxy-headers is ignored" in caplog.text


def test_a_connection_does_not_pretty_print_the_options_for_an_unlogged_debug_line(monkeypatch):
    formatted = []
    real = pprint.PrettyPrinter.pformat
    monkeypatch.setattr(
        pprint.PrettyPrinter, "pformat", lambda self, obj: formatted.append(obj) or real(self, obj)
    )
    protocol = NumeneonWebSocketProtocol()
    protocol.factory = WebSocketFactory(server_class=None)
    protocol._connectionMade()
    assert protocol.state == NumeneonWebSocketProtocol.STATE_CONNECTING
    assert formatted == []  # autobahn's own _connectionMade formats them every time
    assert autobahn_protocol.pformat is pprint.pformat


def test_the_options_are_still_formatted_when_the_debug_line_is_written():
    options = [("logOctets", False, "WebSocketFactory"), ("openHandshakeTimeout", 5, "X")]
    event = {"log_format": "\n{attrs}", "attrs": _FormattedIfLogged(options)}
    assert formatEvent(event) == "\n" + pprint.pformat(options)  # as Twisted's logger writes it
    assert str(event["attrs"]) == pprint.pformat(options)  # as a logger that str()s values


class FakeProtocol:
    def handle_exception(self, exception):
        self.exception = exception


async def test_the_application_checker_looks_only_at_connections_that_changed(monkeypatch):
    from twisted.internet import reactor

    monkeypatch.setattr(reactor, "callLater", lambda *args: None)
    server = NumeneonServer(application=None, endpoints=["unix:/nonexistent"])
    server.connections = {}  # made by run()
    server.application_close_timeout = 10
    loop = asyncio.get_running_loop()

    forever = asyncio.Event()

    def connection(protocol, *, done: bool, disconnected_ago: float | None = None):
        # Applications are tasks, as Daphne makes them.
        task = loop.create_task(asyncio.sleep(0) if done else forever.wait())
        server.connections[protocol] = {"application_instance": task}
        if disconnected_ago is not None:
            server.connections[protocol]["disconnected"] = time.time() - disconnected_ago
        return task

    open_running, open_done, gone_done, gone_running, gone_stuck = (FakeProtocol() for _ in "12345")
    connection(open_running, done=False)
    connection(open_done, done=True)
    connection(gone_done, done=True, disconnected_ago=0)
    still_closing = connection(gone_running, done=False, disconnected_ago=1)
    stuck = connection(gone_stuck, done=False, disconnected_ago=60)
    await asyncio.sleep(0.01)  # the finished ones finish
    server._to_check = {open_done, gone_done, gone_running, gone_stuck}

    server.application_checker()

    # As Daphne: a finished application is let go, a disconnected connection whose
    # application ended is forgotten, one stuck past application_close_timeout is cancelled.
    assert set(server.connections) == {open_running, open_done, gone_running, gone_stuck}
    assert "application_instance" not in server.connections[open_done]
    assert not still_closing.cancelling() and stuck.cancelling()
    # Only the disconnected ones still waiting for their application are looked at again.
    assert server._to_check == {gone_running, gone_stuck}
    await asyncio.sleep(0.01)  # the cancelled application ends
    server.application_checker()
    assert set(server.connections) == {open_running, open_done, gone_running}
    assert server._to_check == {gone_running}


async def test_a_finished_application_and_a_disconnect_mark_the_connection(monkeypatch):
    async def application(scope, receive, send):
        await receive()

    server = NumeneonServer(application=application, endpoints=["unix:/nonexistent"])
    server.connections = {}  # made by run()
    protocol = FakeProtocol()
    server.protocol_connected(protocol)
    inbox = server.create_application(protocol, {"type": "http"})
    await asyncio.sleep(0)
    assert server._to_check == set()
    inbox.put_nowait({"type": "http.disconnect"})
    await server.connections[protocol]["application_instance"]
    await asyncio.sleep(0)
    assert server._to_check == {protocol}
    server._to_check.clear()
    server.protocol_disconnected(protocol)
    assert server._to_check == {protocol}


async def test_a_connection_is_forgotten_once_closed_and_its_application_ended(monkeypatch):
    from twisted.internet import reactor

    monkeypatch.setattr(reactor, "callLater", lambda *args: None)

    async def application(scope, receive, send):
        await receive()

    server = NumeneonServer(application=application, endpoints=["unix:/nonexistent"])
    server.connections = {}  # made by run()
    protocol, other = FakeProtocol(), FakeProtocol()
    for each in (protocol, other):
        server.protocol_connected(each)
        server.create_application(each, {"type": "http"})
    server.protocol_disconnected(protocol)
    server.application_checker()
    assert protocol in server.connections  # its application has not ended yet
    server.connections[protocol]["application_instance"].cancel()
    await asyncio.sleep(0.01)
    server.application_checker()
    assert set(server.connections) == {other} and server._to_check == set()


def test_the_server_raises_its_descriptor_limit_to_the_hard_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
        raised = raise_descriptor_limit()
        assert raised == (hard if hard != resource.RLIM_INFINITY else 1 << 20)
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (raised, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
