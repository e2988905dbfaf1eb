"""The client address rate limits count on: the peer's, or behind trusted proxies the one
they forwarded; never an address the client wrote itself."""

from __future__ import annotations

from ipaddress import ip_network
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from gateway.config import ServerConfig
from gateway.http.clients import client_address

PROXIES = [ip_network("10.0.0.0/8"), ip_network("::1/128")]


def _request(peer: str, *forwarded: str) -> object:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default
    )
    headers = CIMultiDict(("X-Forwarded-For", value) for value in forwarded)
    return make_mocked_request("GET", "/chat", headers=headers, transport=transport)


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),  # not a proxy: its header is ignored
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),  # one trusted proxy
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1, 10.1.1.1"], "198.51.100.1"),  # a chain of two
        ("10.0.0.2", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # a repeated header
        ("10.0.0.2", [], "10.0.0.2"),  # a trusted peer that forwarded nothing
        ("10.0.0.2", ["10.1.1.1"], "10.1.1.1"),  # only proxies: the leftmost is all we know
        ("10.0.0.2", ["198.51.100.1, not-an-address"], "10.0.0.2"),  # garbage stops the walk
        ("::1", ["2001:db8::5"], "2001:db8::5"),
    ],
)
def test_the_rightmost_address_no_trusted_proxy_wrote(
    peer: str, forwarded: list[str], client: str
) -> None:
    assert client_address(_request(peer, *forwarded), PROXIES) == client  # type: ignore[arg-type]


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    request = _request("10.0.0.2", "198.51.100.1")
    assert client_address(request, []) == "10.0.0.2"  # type: ignore[arg-type]


def test_the_setting_takes_addresses_and_networks_and_names_a_bad_one() -> None:
    config = ServerConfig(trusted_proxies=["10.0.0.0/8", "192.0.2.10"])  # type: ignore[list-item]
    assert [str(n) for n in config.trusted_proxies] == ["10.0.0.0/8", "192.0.2.10/32"]
    with pytest.raises(ValueError, match="trusted_proxies"):
        ServerConfig(trusted_proxies=["proxy.example.com"])  # type: ignore[list-item]
