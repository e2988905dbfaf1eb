"""Where a request came from: the connection's peer, or, when that peer is one of
`server.trusted_proxies`, the client the proxies name in `X-Forwarded-For`.

The header is read from the right: each trusted proxy appends the address it got the request
from, so the rightmost address that is not a trusted proxy is the client. Anything left of it
was written by the client itself and proves nothing, so a visitor cannot pick the address its
rate limit is counted on. Without trusted proxies the header is never read."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network

from aiohttp import web

Network = IPv4Network | IPv6Network
FORWARDED_FOR = "X-Forwarded-For"


def client_address(request: web.Request, trusted: Sequence[Network]) -> str:
    peer = request.remote or "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    client = peer
    for hop in reversed(_hops(request)):
        if not _is_address(hop):
            break  # not what a proxy writes: keep the last address a trusted proxy gave
        client = hop
        if not _is_trusted(hop, trusted):
            break
    return client


def _hops(request: web.Request) -> list[str]:
    """Every `X-Forwarded-For` value (a repeated header counts as one list), left to right."""
    values = ",".join(request.headers.getall(FORWARDED_FOR, []))
    return [hop.strip() for hop in values.split(",") if hop.strip()]


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
