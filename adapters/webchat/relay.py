"""The web chat's frames from the process that sends a bot's actions to the processes that hold
the visitors' sockets.

A bot's actions are consumed by one adapters process at a time, while its visitors' sockets
are spread over every gateway process (behind a load balancer). So the adapter's `send`
publishes each frame to the topic exchange `botgate.webchat` (routing key: the bot), and every
process serving sockets consumes a queue of its own bound to it: the process holding the
visitor pushes the frame to the socket, the others keep it for a reconnect (adapter.py). The
`all` role takes the same path: one hop through the broker, so two `all` processes behind a
load balancer work too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.bus.base import Bus, Delivery, Message, Subscription
from gateway.bus.topology import WEBCHAT_EXCHANGE, webchat_queue

if TYPE_CHECKING:
    from adapters.webchat.adapter import Frame, WebchatAdapter

log = logging.getLogger(__name__)
PREFETCH = 256  # frames in this process's hands at once; they are pushed one by one, in order


class WebchatRelay:
    """Publishes frames for the web chat adapters; in a process that serves visitors' sockets
    (`serves`), also takes every frame of those bots and hands it to the adapter."""

    def __init__(self, bus: Bus, adapters: Mapping[str, WebchatAdapter], serves: bool) -> None:
        self.bus, self.adapters, self.serves = bus, adapters, serves
        self.queue = f"{WEBCHAT_EXCHANGE}.{uuid.uuid4().hex}"
        self._intake: asyncio.Queue[Delivery] = asyncio.Queue()
        self._subscription: Subscription | None = None
        self._pusher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for adapter in self.adapters.values():
            adapter.relay = self
        if not self.serves or not self.adapters:
            return
        await self.bus.declare_queue(webchat_queue(self.queue, self.adapters))
        self._pusher = asyncio.create_task(self._push_in_order())
        self._subscription = await self.bus.consume(self.queue, self._take, prefetch=PREFETCH)

    async def stop(self) -> None:
        for adapter in self.adapters.values():
            adapter.relay = None
        if self._subscription is not None:
            await self._subscription.cancel()
            self._subscription = None
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
            self._pusher = None

    async def publish(self, bot: str, visitor: str, frame: Frame) -> None:
        """Confirmed by the broker (BusUnavailable otherwise: the send is retried). With no
        process serving sockets, the frame goes nowhere: the history has the reply."""
        body = json.dumps({"visitor": visitor, "frame": frame}, separators=(",", ":"))
        await self.bus.publish(
            Message(WEBCHAT_EXCHANGE, bot, body.encode(), message_id=uuid.uuid4().hex)
        )

    def _take(self, delivery: Delivery) -> None:
        # One loop pushes every frame: a task each could reorder a streamed answer's snapshots
        self._intake.put_nowait(delivery)

    async def _push_in_order(self) -> None:
        while True:
            delivery = await self._intake.get()
            try:
                await delivery.ack()  # a frame is shown once or not at all; the history has it
                await self._push(delivery.message)
            except Exception:
                log.exception("web chat: could not hand a frame to its visitor")

    async def _push(self, message: Message) -> None:
        adapter = self.adapters.get(message.routing_key)
        payload: Any = json.loads(message.body)
        if adapter is None or not isinstance(payload, dict):
            return
        visitor, frame = payload.get("visitor"), payload.get("frame")
        if isinstance(visitor, str) and isinstance(frame, dict):
            await adapter.deliver(visitor, frame)
