"""The AMQP bus's control connection: queue locks and queue inspection, apart from the
connection that carries messages.

Why a connection of its own:
- A refused lock (`RESOURCE_LOCKED`) and an inspection of a queue that is not there (404) are
  channel errors: the broker closes the channel they were asked on. Asked on the messaging
  connection, every such refusal opened and closed a channel next to the consumers' channels;
  under the cores' once-a-second balancing that churn met aiormq's channel-number reuse and
  RabbitMQ closed the whole connection (`CHANNEL_ERROR - expected 'channel.open'`). Here one
  channel serves every request, one at a time, and is opened again only after a refusal.
- A lock is an exclusive queue (`<queue>.lock`): RabbitMQ refuses it to any other connection
  and deletes it when this one closes, so a process that dies, even by SIGKILL, frees its
  locks at once. Not restored after a reconnection: a holder learns that its locks lapsed
  from `generation`, and gives up what they guarded.

Every wait on the broker is bounded with `asyncio.timeout`, not `asyncio.wait_for`: on Python
3.11 `wait_for` drops a cancel of its caller that comes in the loop pass of the answer, and
the cores' balancing loop, stopped by a cancel, then went on (gateway/core/shards.py).
"""

from __future__ import annotations

import asyncio
import logging

import aiormq

from gateway.bus.base import QueueStats

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0


class ControlLink:
    def __init__(self, url: str, timeout: float) -> None:
        self._url, self._timeout = url, timeout
        self._connection: aiormq.abc.AbstractConnection | None = None
        self._channel: aiormq.abc.AbstractChannel | None = None
        self._turn = asyncio.Lock()  # one request at a time on the one channel
        self.generation = 0  # one more with each new connection: locks of older ones are gone

    def holds_since(self, generation: int) -> bool:
        """Whether the connection that took locks in `generation` is still open."""
        return (
            generation == self.generation
            and self._connection is not None
            and not self._connection.is_closed
        )

    async def lock(self, name: str) -> int | None:
        """Take the lock `name`: the generation it was taken in, or None if another holds it."""
        async with self._turn:
            channel = await self._ready()
            try:
                async with asyncio.timeout(self._timeout):
                    await channel.queue_declare(name, exclusive=True, auto_delete=False)
            except aiormq.exceptions.ChannelLockedResource:
                self._channel = None  # closed by the broker
                return None
            return self.generation

    async def unlock(self, name: str, generation: int) -> None:
        async with self._turn:
            if not self.holds_since(generation):
                return  # died with its connection
            channel = await self._ready()
            async with asyncio.timeout(self._timeout):
                await channel.queue_delete(name)

    async def stats(self, name: str) -> QueueStats | None:
        """Messages waiting and consumers of queue `name`; None if there is no such queue."""
        async with self._turn:
            channel = await self._ready()
            try:
                async with asyncio.timeout(self._timeout):
                    declared = await channel.queue_declare(name, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                self._channel = None  # closed by the broker
                return None
            except aiormq.exceptions.ChannelLockedResource:
                self._channel = None  # an exclusive queue of another connection: ask there
                raise
        return QueueStats(int(declared.message_count or 0), int(declared.consumer_count or 0))

    async def _ready(self) -> aiormq.abc.AbstractChannel:
        if self._connection is None or self._connection.is_closed:
            self._channel = None
            async with asyncio.timeout(CONNECT_TIMEOUT):
                self._connection = await aiormq.connect(
                    self._url, client_properties={"connection_name": "botgate-control"}
                )
            self.generation += 1
        if self._channel is None or self._channel.is_closed:
            async with asyncio.timeout(self._timeout):
                self._channel = await self._connection.channel()
        return self._channel

    async def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and not connection.is_closed:
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    await connection.close()
            except (aiormq.exceptions.AMQPError, OSError, TimeoutError):
                log.info("the control connection did not close cleanly; the broker drops it")
