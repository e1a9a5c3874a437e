"""numeneon.upstream_patches: each patch of Daphne's, autobahn's and Twisted's internals, and
the versions they were written against (the patched server is tested end to end in tests/e2e)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import pprint
import re
import time
from pathlib import Path
from types import SimpleNamespace

import autobahn.websocket.protocol as autobahn_protocol
from daphne.ws_protocol import WebSocketFactory
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent

from numeneon.upstream_patches import (
    PATCHED_AGAINST,
    DrainWatch,
    FormattedIfLogged,
    PatchedServer,
    PatchedWebSocketProtocol,
)

SEND_TIMEOUT = 60.0
REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_versions() -> dict[str, str]:
    pins = {}
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)", line)
        if match:
            pins[normalized(match.group(1))] = match.group(2)
    return pins


def test_the_patches_were_written_against_the_installed_and_pinned_versions():
    pins = pinned_versions()
    moved = []
    for name, written_against in PATCHED_AGAINST.items():
        installed = importlib.metadata.version(name)
        pinned = pins.get(normalized(name))
        if not written_against == installed == pinned:
            moved.append(
                f"{name}: patches written against {written_against}, installed {installed}, "
                f"pinned {pinned} in requirements.txt"
            )
    assert not moved, (
        "; ".join(moved) + ". Re-check each patch in numeneon/upstream_patches.py against the "
        "new version (does it still override the same internals? is its upstream issue fixed, "
        "so that the patch can go?), run tests/e2e, then set PATCHED_AGAINST to the pins."
    )


def server(**kwargs) -> PatchedServer:
    return PatchedServer(
        endpoints=["unix:/nonexistent"],
        http_headers_timeout=10,
        http_body_timeout=30,
        body_linger_timeout=5,
        websocket_send_timeout=SEND_TIMEOUT,
        shutdown_grace_timeout=3,
        **kwargs,
    )


class DroppableProtocol:
    """What DrainWatch uses of autobahn's protocol."""

    def __init__(self) -> None:
        self.drops: list[bool] = []
        self.state = PatchedWebSocketProtocol.STATE_OPEN

    def dropConnection(self, abort: bool = False) -> None:
        self.drops.append(abort)


def test_a_socket_is_dropped_only_when_its_frames_stay_unsent_for_the_send_timeout():
    clock, protocol = Clock(), DroppableProtocol()
    watch = DrainWatch(protocol, SEND_TIMEOUT, clock)
    watch.pauseProducing()
    clock.advance(SEND_TIMEOUT - 1)
    watch.pauseProducing()  # Twisted pauses again on every write while the buffer is full
    clock.advance(0.5)
    watch.resumeProducing()  # everything went out in time
    clock.advance(SEND_TIMEOUT)
    assert protocol.drops == []

    watch.pauseProducing()
    clock.advance(SEND_TIMEOUT)
    assert protocol.drops == [True]  # aborted: its close frame could not get out either


def test_a_connection_lost_while_frames_wait_leaves_no_timer():
    clock, protocol = Clock(), DroppableProtocol()
    watch = DrainWatch(protocol, SEND_TIMEOUT, clock)
    watch.pauseProducing()
    watch.stopProducing()
    assert clock.getDelayedCalls() == []
    clock.advance(SEND_TIMEOUT)
    assert protocol.drops == []


def test_a_socket_closed_another_way_while_its_frames_wait_is_not_dropped_again():
    clock, protocol = Clock(), DroppableProtocol()
    watch = DrainWatch(protocol, SEND_TIMEOUT, clock)
    watch.pauseProducing()
    protocol.state = PatchedWebSocketProtocol.STATE_CLOSED  # e.g. autobahn's ping timeout
    clock.advance(SEND_TIMEOUT)
    assert protocol.drops == []


class UnservedProtocol(PatchedWebSocketProtocol):
    def onClose(self, wasClean, code, reason):
        """Daphne's tells its Server and application, which this test has none of."""


def test_the_drain_watch_takes_the_servers_send_timeout_and_stops_once_unregistered():
    # autobahn's dropConnection unregisters the producer, and Twisted then no longer stops it.
    protocol = UnservedProtocol()
    protocol.factory = WebSocketFactory(
        server_class=SimpleNamespace(websocket_send_timeout=SEND_TIMEOUT)
    )
    protocol.transport = StringTransport()
    protocol.connectionMade()
    watch = protocol.transport.producer
    assert isinstance(watch, DrainWatch) and watch._timeout == SEND_TIMEOUT
    watch.pauseProducing()
    protocol.transport.unregisterProducer()
    protocol.connectionLost()
    assert watch._timer is None


def test_a_connection_does_not_pretty_print_the_options_for_an_unlogged_debug_line(monkeypatch):
    formatted = []
    real = pprint.PrettyPrinter.pformat
    monkeypatch.setattr(
        pprint.PrettyPrinter, "pformat", lambda self, obj: formatted.append(obj) or real(self, obj)
    )
    protocol = PatchedWebSocketProtocol()
    protocol.factory = WebSocketFactory(server_class=None)
    protocol._connectionMade()
    assert protocol.state == PatchedWebSocketProtocol.STATE_CONNECTING
    assert formatted == []  # autobahn's own _connectionMade formats them every time
    assert autobahn_protocol.pformat is pprint.pformat


def test_the_options_are_still_formatted_when_the_debug_line_is_written():
    options = [("logOctets", False, "WebSocketFactory"), ("openHandshakeTimeout", 5, "X")]
    event = {"log_format": "\n{attrs}", "attrs": FormattedIfLogged(options)}
    assert formatEvent(event) == "\n" + pprint.pformat(options)  # as Twisted's logger writes it
    assert str(event["attrs"]) == pprint.pformat(options)  # as a logger that str()s values


class FakeProtocol:
    def handle_exception(self, exception):
        self.exception = exception


async def test_the_application_checker_looks_only_at_connections_that_changed(monkeypatch):
    from twisted.internet import reactor

    monkeypatch.setattr(reactor, "callLater", lambda *args: None)
    patched = server(application=None)
    patched.connections = {}  # made by run()
    patched.application_close_timeout = 10
    loop = asyncio.get_running_loop()

    forever = asyncio.Event()

    def connection(protocol, *, done: bool, disconnected_ago: float | None = None):
        # Applications are tasks, as Daphne makes them.
        task = loop.create_task(asyncio.sleep(0) if done else forever.wait())
        patched.connections[protocol] = {"application_instance": task}
        if disconnected_ago is not None:
            patched.connections[protocol]["disconnected"] = time.time() - disconnected_ago
        return task

    open_running, open_done, gone_done, gone_running, gone_stuck = (FakeProtocol() for _ in "12345")
    connection(open_running, done=False)
    connection(open_done, done=True)
    connection(gone_done, done=True, disconnected_ago=0)
    still_closing = connection(gone_running, done=False, disconnected_ago=1)
    stuck = connection(gone_stuck, done=False, disconnected_ago=60)
    await asyncio.sleep(0.01)  # the finished ones finish
    patched._to_check = {open_done, gone_done, gone_running, gone_stuck}

    patched.application_checker()

    # As Daphne: a finished application is let go, a disconnected connection whose
    # application ended is forgotten, one stuck past application_close_timeout is cancelled.
    assert set(patched.connections) == {open_running, open_done, gone_running, gone_stuck}
    assert "application_instance" not in patched.connections[open_done]
    assert not still_closing.cancelling() and stuck.cancelling()
    # Only the disconnected ones still waiting for their application are looked at again.
    assert patched._to_check == {gone_running, gone_stuck}
    await asyncio.sleep(0.01)  # the cancelled application ends
    patched.application_checker()
    assert set(patched.connections) == {open_running, open_done, gone_running}
    assert patched._to_check == {gone_running}


async def test_a_finished_application_and_a_disconnect_mark_the_connection():
    async def application(scope, receive, send):
        await receive()

    patched = server(application=application)
    patched.connections = {}  # made by run()
    protocol = FakeProtocol()
    patched.protocol_connected(protocol)
    inbox = patched.create_application(protocol, {"type": "http"})
    await asyncio.sleep(0)
    assert patched._to_check == set()
    inbox.put_nowait({"type": "http.disconnect"})
    await patched.connections[protocol]["application_instance"]
    await asyncio.sleep(0)
    assert patched._to_check == {protocol}
    patched._to_check.clear()
    patched.protocol_disconnected(protocol)
    assert patched._to_check == {protocol}


async def test_a_connection_is_forgotten_once_closed_and_its_application_ended(monkeypatch):
    from twisted.internet import reactor

    monkeypatch.setattr(reactor, "callLater", lambda *args: None)

    async def application(scope, receive, send):
        await receive()

    patched = server(application=application)
    patched.connections = {}  # made by run()
    protocol, other = FakeProtocol(), FakeProtocol()
    for each in (protocol, other):
        patched.protocol_connected(each)
        patched.create_application(each, {"type": "http"})
    patched.protocol_disconnected(protocol)
    patched.application_checker()
    assert protocol in patched.connections  # its application has not ended yet
    patched.connections[protocol]["application_instance"].cancel()
    await asyncio.sleep(0.01)
    patched.application_checker()
    assert set(patched.connections) == {other} and patched._to_check == set()
