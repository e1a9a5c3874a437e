"""numeneon.server's configuration over Daphne's defaults (the patches it runs with are tested in
tests/test_upstream_patches.py, and the whole server end to end in tests/e2e)."""

from __future__ import annotations

import importlib
import resource

import pytest
from django.core.exceptions import ImproperlyConfigured

import numeneon.server as server_module
from numeneon.server import (
    WEBSOCKET_CONNECT_TIMEOUT_SECONDS,
    NumeneonCommandLineInterface,
    NumeneonServer,
    raise_descriptor_limit,
)


def test_a_handshake_may_wait_a_minute_for_the_application_not_daphnes_5_s():
    # In a reconnect storm, accepting every client takes longer than Daphne's 5 s.
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


def test_the_command_line_starts_the_configured_server():
    assert NumeneonCommandLineInterface.server_class is NumeneonServer


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


def test_the_patches_get_their_timeouts_and_options_from_the_configuration():
    server = NumeneonServer(application=None, endpoints=["tcp:port=8000"])
    assert server.http_headers_timeout == server_module.HTTP_HEADERS_TIMEOUT_SECONDS == 10
    assert server.http_body_timeout == server_module.HTTP_BODY_TIMEOUT_SECONDS == 30
    assert server.websocket_send_timeout == server_module.WEBSOCKET_SEND_TIMEOUT_SECONDS == 60
    assert server.body_linger_timeout == server_module.BODY_LINGER_SECONDS
    assert server.shutdown_grace_timeout == server_module.SHUTDOWN_GRACE_SECONDS
    assert server.websocket_protocol_options == {"failByDrop": False}


def test_daphnes_access_log_is_off_whatever_the_command_line_says():
    # Daphne's lines would print full URIs, with any ?token= in them.
    server = NumeneonServer(
        application=None, endpoints=["tcp:port=8000"], action_logger=lambda *args: None
    )
    assert server.action_logger is None


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


def test_the_settings_come_from_the_environment_through_numeneon_env(monkeypatch):
    monkeypatch.setenv("WEBSOCKET_SEND_TIMEOUT", "2.5")
    monkeypatch.setenv("LISTEN_BACKLOG", "")  # empty: the default, as every envint
    try:
        importlib.reload(server_module)
        assert server_module.WEBSOCKET_SEND_TIMEOUT_SECONDS == 2.5
        assert server_module.LISTEN_BACKLOG == 4096
        monkeypatch.setenv("HTTP_HEADERS_TIMEOUT", "ten")
        with pytest.raises(ImproperlyConfigured, match="HTTP_HEADERS_TIMEOUT"):
            importlib.reload(server_module)
    finally:
        monkeypatch.undo()
        importlib.reload(server_module)


def test_the_server_raises_its_descriptor_limit_to_the_hard_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
        raised = raise_descriptor_limit()
        assert raised == (hard if hard != resource.RLIM_INFINITY else 1 << 20)
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (raised, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
