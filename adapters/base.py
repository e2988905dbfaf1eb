"""The adapter contract. Adapters never import the web server: the HTTP layer hands them a
frozen `InboundRequest` and turns their `Parsed` result into a response.

A webhook runs verify -> parse -> publish -> answer, in that order, for every platform:
`verify` raises SignatureError (401), `parse` raises PayloadError (400), and the HTTP layer
publishes `Parsed.events` (503 if the bus cannot confirm) before answering `Parsed.reply`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from gateway.config import BotConfig, Settings
from gateway.events import Action, Event
from gateway.tools.base import CommandSpec


@dataclass(frozen=True)
class InboundRequest:
    """One webhook request, as the adapter sees it. Header names are lower-case."""

    platform: str
    bot: str
    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    received_at: datetime

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class WebhookReply:
    status: int = 200
    body: bytes = b'{"ok":true}'
    content_type: str = "application/json"


@dataclass(frozen=True)
class Parsed:
    """What a webhook request means: events to publish, then the answer to give."""

    events: tuple[Event, ...] = ()
    reply: WebhookReply | None = None  # None: 200 {"ok": true}
    # Seconds to wait for the bot's replies to events[0] and answer with them (generic ?wait)
    reply_wait: float | None = None


@dataclass(frozen=True)
class SendResult:
    """What the platform said to a sent action. `message_id` is the platform's own id."""

    message_id: str | None = None
    text: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    extra_message_ids: tuple[str, ...] = ()  # further parts of a long text split in several


class AdapterContext(Protocol):
    """What a running adapter may use from the gateway."""

    settings: Settings
    # True in the one process that runs this bot's receiving loops (polling, gateway websocket,
    # Socket Mode) and registers webhooks; False where the adapter only verifies, parses, sends.
    receives: bool

    async def publish_event(self, event: Event) -> None:
        """Publish an inbound event with a broker confirm; raises BusUnavailable."""
        ...

    def commands(self, bot: str) -> list[CommandSpec]:
        """The bot's tools as its command menus list them (from the tool registry)."""
        ...

    async def load_state(self, platform: str, bot: str) -> dict[str, Any]:
        """The adapter's durable state (e.g. a polling offset), kept in `platform_bots.state`."""
        ...

    async def save_state(self, platform: str, bot: str, state: Mapping[str, Any]) -> None: ...

    async def update_state(
        self, platform: str, bot: str, change: Callable[[dict[str, Any]], None]
    ) -> None:
        """Read, `change` in place, write, as one step: concurrent processes lose no write."""
        ...

    def lease(self, name: str) -> Lease:
        """The lease `name` (e.g. a bot's poller), which one adapter process at a time holds."""
        ...


class Lease(Protocol):
    """One process at a time holds it; `healthz` shows who."""

    async def acquire(self) -> None:
        """Wait until this process holds it."""
        ...

    async def lost(self) -> None:
        """Keep holding it; return once it is lost (and the job it guards must stop)."""
        ...

    async def release(self) -> None:
        """Let another process take it now."""
        ...


async def while_held(lease: Lease, job: Callable[[], Awaitable[None]]) -> None:
    """Run `job` whenever this process holds the lease; stop it when the lease is lost, and
    wait to take it again. Cancelling stops the job and releases the lease."""
    while True:
        await lease.acquire()
        work = asyncio.ensure_future(job())
        keeper = asyncio.ensure_future(lease.lost())
        try:
            await asyncio.wait({work, keeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (work, keeper):
                task.cancel()
            await asyncio.gather(work, keeper, return_exceptions=True)
            await lease.release()


class Adapter(Protocol):
    """One bot on one platform.

    `send` raises PermanentError for a refusal that retrying cannot fix (blocked by the user,
    unknown chat): the action is dead-lettered and the failure recorded in `audit_log`. It
    raises TransientError (with `retry_after` when the platform said so) for what may pass:
    the action runner waits and retries it in place, so one chat's order holds. The runner
    sends one chat's actions one at a time and different chats' concurrently; per-platform rate
    limits (per chat, per bot) live inside the adapter's `send`.
    """

    platform: ClassVar[str]
    bot: BotConfig

    def verify(self, request: InboundRequest) -> None: ...

    def parse(self, request: InboundRequest) -> Parsed: ...

    async def start(self, context: AdapterContext) -> None:
        """Open clients and start any receiving loop (polling, gateway, socket)."""
        ...

    async def stop(self) -> None: ...

    async def send(self, action: Action) -> SendResult: ...
