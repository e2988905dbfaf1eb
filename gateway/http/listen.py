"""The HTTP port, taken before anything else starts, so that a port in use fails start-up at
once, with a line that says what to do, before a database or a key file is created."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from typing import Any

from gateway.errors import ListenError

BACKLOG = 128


class Listener:
    """Listening sockets on host:port (every address the host resolves to); port 0 picks a
    free port, the same on every address. Connections wait in the backlog until served."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.sockets: list[socket.socket] = []

    async def open(self) -> None:
        for address in await _addresses(self.host, self.port):
            if self.port == 0 and self.sockets:
                family, host, _, *rest = address
                address = (family, host, self.sockets[0].getsockname()[1], *rest)
            try:
                self.sockets.append(_listening(address[0], address[1:]))
            except BaseException:
                self._close()
                raise
        self.port = self.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self._close()

    def _close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


async def _addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """(family, *sockaddr) for each distinct address of `host`."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ListenError(
            f"server.host = {host!r} does not resolve ({exc.strerror}); use 127.0.0.1 "
            "(this machine only), 0.0.0.0 (every interface) or a name of this machine"
        ) from None
    unique = {(family, *sockaddr): None for family, _, _, _, sockaddr in infos}
    return list(unique)


def _listening(family: socket.AddressFamily, sockaddr: tuple[Any, ...]) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:  # as asyncio does: one socket per family
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ListenError(_reason(exc, sockaddr[0], sockaddr[1])) from None
    sock.setblocking(False)
    return sock


def _reason(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another botgate role or program?); "
            "choose another with `botgate serve --port N`, [server] port or BOTGATE_PORT: "
            "on one host every role needs its own port (--port 0 picks a free one)"
        )
    if exc.errno == errno.EACCES:
        return (
            f"server.port = {port}: this user may not listen on port {port} on {host} "
            "(ports below 1024 need privileges); choose a port above 1023"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"server.host = {host!r} is not an address of this machine; use 127.0.0.1 "
            "(this machine only) or 0.0.0.0 (every interface)"
        )
    return f"cannot listen on {host}:{port} ({exc.strerror}); check [server] host and port"
