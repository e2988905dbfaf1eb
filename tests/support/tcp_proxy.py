"""A TCP proxy on an ephemeral 127.0.0.1 port, for outage tests.

`drop()` aborts every proxied connection at once (both sides see a reset, as when a broker
node dies); `refuse()` makes it close each new connection on arrival until `accept()`.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from yarl import URL


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self.refusing = False
        self.refused = 0  # connections closed on arrival while refusing: the client's retries
        self._flowing = asyncio.Event()  # upstream -> client; cleared by hold()
        self._flowing.set()

    @classmethod
    def to(cls, url: str) -> TcpProxy:
        parsed = URL(url)
        assert parsed.host is not None
        assert parsed.port is not None
        return cls(parsed.host, parsed.port)

    @property
    def port(self) -> int:
        assert self._server is not None, "the proxy is not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url(self, url: str) -> str:
        """`url` pointed at the proxy instead of the upstream."""
        return str(URL(url).with_host("127.0.0.1").with_port(self.port))

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self.drop()
        await self._server.wait_closed()

    def refuse(self) -> None:
        self.refusing = True

    def accept(self) -> None:
        self.refusing = False

    def hold(self) -> None:
        """Keep what the upstream sends (a broker's confirms and deliveries) from reaching
        the client, while the client's own bytes still go through: a confirm lost in flight."""
        self._flowing.clear()

    def release(self) -> None:
        self._flowing.set()

    async def drop(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        held = not self._flowing.is_set()
        self._flowing.set()  # a held pipe wakes, finds its writer gone and ends
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if held:
            self._flowing.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, upstream_writer))
        pipes = (
            self._pipe(reader, upstream_writer),
            self._pipe(upstream_reader, writer, self._flowing),
        )
        for pipe in pipes:
            task = asyncio.create_task(pipe)
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        gate: asyncio.Event | None = None,
    ) -> None:
        """Copy until either side goes; then close this direction's writer (the peer's reader)."""
        try:
            while data := await reader.read(65536):
                if gate is not None:
                    await gate.wait()
                if writer.transport.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
