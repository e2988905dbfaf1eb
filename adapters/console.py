"""The console adapter: `botgate chat` talks to a bot from the terminal through the whole
pipeline (bus, core, database, action runner), as a one-person direct channel. The bot's
buttons are shown as numbered choices; `press(n)` clicks one."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from typing import ClassVar
from uuid import UUID

from adapters.base import AdapterContext, InboundRequest, Parsed, SendResult
from adapters.direct import direct_event
from adapters.text import parse_command
from gateway.config import BotConfig, Settings
from gateway.errors import PayloadError, TransientError
from gateway.events import (
    Action,
    Button,
    ChannelRef,
    Event,
    EventType,
    Interaction,
    MessageBody,
    UserRef,
)
from gateway.ids import new_id


class ConsoleAdapter:
    platform: ClassVar[str] = "console"

    def __init__(
        self, bot: BotConfig, settings: Settings, output: Callable[[str], None] = print
    ) -> None:
        self.bot = bot
        self.user = getpass.getuser() or "you"
        self.channel = f"console-{self.user}"
        self._output = output
        self._context: AdapterContext | None = None
        self._answered: dict[UUID, asyncio.Event] = {}
        self.choices: list[tuple[Button, str]] = []  # the last buttons shown, with their message

    def verify(self, request: InboundRequest) -> None:
        raise PayloadError("the console adapter takes no webhooks")

    def parse(self, request: InboundRequest) -> Parsed:
        raise PayloadError("the console adapter takes no webhooks")

    async def start(self, context: AdapterContext) -> None:
        self._context = context

    async def stop(self) -> None:
        self._context = None

    async def say(self, text: str) -> UUID:
        """Publish what the person typed; returns the event id."""
        message_id = str(new_id())
        return await self._publish(
            self._event(
                "message.created",
                message_id,
                message=MessageBody(
                    id=message_id, text=text, command=parse_command(text, self.bot.name)
                ),
            )
        )

    async def press(self, number: int) -> UUID | None:
        """Click the bot's button shown as `number` (from 1); None when there is no such one."""
        if not 1 <= number <= len(self.choices):
            return None
        button, message_id = self.choices[number - 1]
        interaction = Interaction(id=button.id, message_id=message_id)
        return await self._publish(self._event("interaction.clicked", str(new_id()), interaction))

    async def _publish(self, event: Event) -> UUID:
        if self._context is None:
            raise TransientError("the console adapter is not started")
        self._answered[event.id] = asyncio.Event()
        await self._context.publish_event(event)
        return event.id

    async def wait_answer(self, event_id: UUID, timeout: float) -> bool:
        answered = self._answered.setdefault(event_id, asyncio.Event())
        try:
            await asyncio.wait_for(answered.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._answered.pop(event_id, None)

    async def send(self, action: Action) -> SendResult:
        message_id = str(action.id)
        if action.type == "message.send" and action.text:
            self._output(f"{self.bot.name}> {action.text}")
        if action.type == "message.send" and action.buttons:
            self.choices = [(button, message_id) for button in action.buttons]
            for number, button in enumerate(action.buttons, start=1):
                self._output(f"  {number}) {button.label}")
        if action.in_reply_to in self._answered:
            self._answered[action.in_reply_to].set()
        return SendResult(message_id=message_id, text=action.text)

    def _event(
        self,
        type: EventType,
        id_: str,
        interaction: Interaction | None = None,
        message: MessageBody | None = None,
    ) -> Event:
        return direct_event(
            "console",
            self.bot.name,
            type,
            f"console:{self.bot.name}:{type}:{id_}",
            UserRef(id=self.user, name=self.user),
            ChannelRef(id=self.channel, type="direct", name="console"),
            message,
            interaction,
        )
