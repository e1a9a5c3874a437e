"""numeneon.clientaddr: which X-Forwarded-For entry is the client."""

from __future__ import annotations

import pytest

from numeneon.clientaddr import client_address, client_network

PRIVATE = ("10.0.0.0/8", "127.0.0.0/8", "::1/128")


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "proxies", "client"),
    [
        # One proxy (Render): the entry it appended, whatever the client wrote before it.
        ("10.1.2.3", ["203.0.113.9"], 1, "203.0.113.9"),
        ("10.1.2.3", ["1.1.1.1, 2.2.2.2, 203.0.113.9"], 1, "203.0.113.9"),
        ("10.1.2.3", ["1.1.1.1", "203.0.113.9"], 1, "203.0.113.9"),  # the header twice
        ("10.1.2.3", [" 2001:db8::1 "], 1, "2001:db8::1"),
        # Two proxies: the one the farther proxy appended.
        ("10.1.2.3", ["1.1.1.1, 203.0.113.9, 10.9.9.9"], 2, "203.0.113.9"),
        # The peer is the client: a direct connection, or nothing usable in the header.
        ("198.51.100.7", ["203.0.113.9"], 1, "198.51.100.7"),
        ("10.1.2.3", [], 1, "10.1.2.3"),
        ("10.1.2.3", ["203.0.113.9"], 2, "10.1.2.3"),
        ("10.1.2.3", ["1.1.1.1, not-an-address"], 1, "10.1.2.3"),
        ("10.1.2.3", ["1.1.1.1, "], 1, "10.1.2.3"),
        ("10.1.2.3", ["203.0.113.9"], 0, "10.1.2.3"),
        ("unix-socket", ["203.0.113.9"], 1, "unix-socket"),
    ],
)
def test_the_client_is_the_entry_the_trusted_proxy_appended(peer, forwarded_for, proxies, client):
    assert client_address(peer, forwarded_for, proxies=proxies, trusted=PRIVATE) == client


def test_no_trusted_network_means_every_peer_is_the_client():
    assert client_address("127.0.0.1", ["203.0.113.9"], proxies=1, trusted=()) == "127.0.0.1"


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("unix-socket", "unix-socket"),
    ],
)
def test_limits_count_an_ipv6_client_by_its_64(address, counted_as):
    assert client_network(address) == counted_as
