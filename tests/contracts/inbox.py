"""Test handlers for the bus suites: they keep what they receive and wait with a bound."""

from __future__ import annotations

import asyncio

from gateway.bus.base import Delivery

WAIT = 10.0  # seconds; a bound on waiting, never a means of synchronisation


class Inbox:
    """A handler that keeps every delivery, unsettled, for the test to settle."""

    def __init__(self) -> None:
        self._deliveries: asyncio.Queue[Delivery] = asyncio.Queue()

    async def __call__(self, delivery: Delivery) -> None:
        self._deliveries.put_nowait(delivery)

    async def next(self) -> Delivery:
        return await asyncio.wait_for(self._deliveries.get(), WAIT)

    async def take(self, count: int) -> list[Delivery]:
        return [await self.next() for _ in range(count)]

    async def until(self, message_id: str) -> list[Delivery]:
        """Everything before the delivery with `message_id` (which is acked, not returned)."""
        received: list[Delivery] = []
        while (delivery := await self.next()).message.message_id != message_id:
            received.append(delivery)
        await delivery.ack()
        return received

    def pending(self) -> int:
        return self._deliveries.qsize()


async def wait_for_all(*events: asyncio.Event) -> None:
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in events)), WAIT)
