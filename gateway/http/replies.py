"""Waiting for the bot's replies to a webhook (`?wait=1`), RPC-style over the bus.

The webhook publishes its event with `reply_to` naming this process's private queue; the core
answers there once it has recorded the event and published the actions (an empty list when
the bot says nothing), so the waiter learns both what was said and that nothing more comes.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from gateway import codec
from gateway.bus.base import Bus, Delivery, Subscription
from gateway.bus.topology import reply_queue
from gateway.errors import NotRecorded


class ReplyWaiter:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.queue = f"botgate.replies.{uuid.uuid4().hex}"
        self._pending: dict[str, asyncio.Future[list[dict[str, Any]]]] = {}
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        await self.bus.declare_queue(reply_queue(self.queue))
        self._subscription = await self.bus.consume(self.queue, self._on_reply, prefetch=100)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.cancel()
        await self.bus.delete_queue(self.queue)
        for future in self._pending.values():
            future.cancel()

    def expect(self, event_id: uuid.UUID) -> asyncio.Future[list[dict[str, Any]]]:
        future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self._pending[str(event_id)] = future
        return future

    def forget(self, event_id: uuid.UUID) -> None:
        self._pending.pop(str(event_id), None)

    async def wait(self, event_id: uuid.UUID, timeout: float) -> list[dict[str, Any]] | None:
        """The replies (an empty list when the bot said nothing), or None when the core did
        not answer within `timeout`; NotRecorded when the core dead-lettered the event."""
        future = self._pending.get(str(event_id)) or self.expect(event_id)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            self.forget(event_id)

    async def _on_reply(self, delivery: Delivery) -> None:
        try:
            body = codec.loads(delivery.message.body)
            future = self._pending.get(str(body.get("event_id")))
            if future is not None and not future.done():
                _settle(future, body)
        finally:
            await delivery.ack()  # a reply nobody waits for any more is dropped


def _settle(future: asyncio.Future[list[dict[str, Any]]], body: dict[str, Any]) -> None:
    if "error" in body:
        future.set_exception(NotRecorded(f"the event was not recorded: {body['error']}"))
    else:
        future.set_result(list(body.get("replies", [])))
