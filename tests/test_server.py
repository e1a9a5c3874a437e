"""numeneon.server's defaults over Daphne's (its behaviour is tested end to end in tests/e2e)."""

from __future__ import annotations

from numeneon.server import (
    WEBSOCKET_CONNECT_TIMEOUT_SECONDS,
    NumeneonCommandLineInterface,
    NumeneonServer,
)


def test_a_handshake_may_wait_a_minute_for_the_application_not_daphnes_5_s():
    # bench.storm: with 5 s, 0 of 5,000 clients reconnecting at once got back; with 60 s all.
    assert WEBSOCKET_CONNECT_TIMEOUT_SECONDS == 60
    cli = NumeneonCommandLineInterface()
    assert cli.parser.parse_args(["numeneon.asgi:application"]).websocket_connect_timeout == 60
    given = ["--websocket_connect_timeout", "7", "numeneon.asgi:application"]
    assert cli.parser.parse_args(given).websocket_connect_timeout == 7


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
