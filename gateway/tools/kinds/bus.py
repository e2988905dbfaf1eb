"""`kind = "bus"`: the call is published to the topic exchange `botgate.tools` with routing key
`<tool name>`, AMQP `reply_to` (this process's answer queue) and `correlation_id`; the service
bound to it publishes the answer body to `reply_to` with that `correlation_id`. With nobody
bound, no answer comes and the runner apologises at the tool's timeout."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

from gateway.bus.base import Bus, Delivery, Message, Subscription
from gateway.bus.topology import TOOLS_EXCHANGE, reply_queue
from gateway.config import ToolConfig
from gateway.tools.base import Reply, ToolCall
from gateway.tools.wire import call_body, parse_answer


class BusAnswers:
    """This process's queue of bus-tool answers, matched to calls by correlation id."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.queue = f"botgate.tool-answers.{uuid.uuid4().hex}"
        self._waiting: dict[str, asyncio.Future[bytes]] = {}
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        await self.bus.declare_queue(reply_queue(self.queue))
        self._subscription = await self.bus.consume(self.queue, self._answered, prefetch=100)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.cancel()
            await self.bus.delete_queue(self.queue)
        for future in self._waiting.values():
            future.cancel()

    async def call(self, message: Message) -> bytes:
        """Publish the call and wait (the caller bounds the wait) for its answer's body."""
        assert message.correlation_id is not None
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[message.correlation_id] = future
        try:
            await self.bus.publish(message)
            return await future
        finally:
            self._waiting.pop(message.correlation_id, None)

    async def _answered(self, delivery: Delivery) -> None:
        future = self._waiting.get(delivery.message.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(delivery.message.body)
        await delivery.ack()  # an answer nobody waits for any more (late, unknown) is dropped


class BusTool:
    def __init__(self, name: str, config: ToolConfig, answers: BusAnswers) -> None:
        self.name, self.description = name, config.description
        self.timeout = config.timeout.total_seconds()
        self.parameters: Mapping[str, Any] | None = config.parameters
        self._answers = answers

    async def run(self, call: ToolCall) -> list[Reply]:
        message = Message(
            TOOLS_EXCHANGE,
            self.name,
            call_body(call),
            str(call.id),
            reply_to=self._answers.queue,
            correlation_id=str(call.id),
        )
        return parse_answer(await self._answers.call(message))
