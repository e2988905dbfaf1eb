"""The web chat adapter: visitors of /chat/{bot} talk to the bot through the whole pipeline.

The HTTP layer (gateway/http/webchat.py) owns the WebSockets; it attaches each visitor's live
connection here as a `Link` and hands over what the visitor sends, which becomes an event on
the bus like any platform's. The action runner's `send` publishes the bot's actions as frames
to every process serving sockets (relay.py), and each hands them to `deliver`: the process
holding the visitor's links pushes them; the others (and it, while the visitor has none:
offline, reloading) keep them and hand them over on the next attach, after the
conversation's history from the database.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from adapters.base import AdapterContext, InboundRequest, Parsed, SendResult
from adapters.direct import direct_event
from adapters.text import parse_command
from adapters.webchat.render import to_html
from adapters.webchat.tokens import Visitor, VisitorTokens
from gateway.config import BotConfig, Settings, WebchatConfig
from gateway.crypto import vault_for
from gateway.errors import PayloadError, TransientError
from gateway.events import (
    Action,
    ChannelRef,
    Event,
    EventType,
    Interaction,
    MessageBody,
    UserRef,
)

Frame = Mapping[str, Any]
KEEP_OFFLINE = 50  # frames kept for a visitor who is away
KEEP_SECONDS = 3600.0  # and for how long
TOKEN_PURPOSE = "webchat-visitor-token"  # noqa: S105 (a label, not a secret)


class Link(Protocol):
    """A visitor's live connection (one per open tab)."""

    async def push(self, frame: Frame) -> None:
        """Deliver one frame; raises ConnectionError when the connection is gone."""
        ...


class Relay(Protocol):
    """Carries a frame to the processes holding visitors' sockets (relay.py)."""

    async def publish(self, bot: str, visitor: str, frame: Frame) -> None: ...


class WebchatAdapter:
    platform: ClassVar[str] = "webchat"

    def __init__(self, bot: BotConfig, settings: Settings) -> None:
        assert bot.webchat is not None
        self.bot = bot
        self.config: WebchatConfig = bot.webchat
        self.settings = settings
        self.tokens: VisitorTokens | None = None
        self._context: AdapterContext | None = None
        self._links: dict[str, set[Link]] = {}
        # by first keep, oldest first (a visitor's entry goes when it attaches)
        self._kept: dict[str, tuple[float, deque[Frame]]] = {}
        self.relay: Relay | None = None  # set while the runtime runs; else frames stay here

    @property
    def title(self) -> str:
        return self.config.title or self.bot.description or f"Chat with {self.bot.name}"

    def verify(self, request: InboundRequest) -> None:
        raise PayloadError("the web chat takes no webhooks; visitors connect to /chat/{bot}")

    def parse(self, request: InboundRequest) -> Parsed:
        raise PayloadError("the web chat takes no webhooks; visitors connect to /chat/{bot}")

    async def start(self, context: AdapterContext) -> None:
        key = vault_for(self.settings).derive(TOKEN_PURPOSE)
        self.tokens = VisitorTokens(key, self.config.visitor_ttl.total_seconds())
        self._context = context

    async def stop(self) -> None:
        self._context = None
        self._links.clear()

    # the visitor's side, called by the HTTP layer

    def attach(self, visitor: str, link: Link) -> list[Frame]:
        """Register a live link; returns what was kept for the visitor while away."""
        self._links.setdefault(visitor, set()).add(link)
        _, kept = self._kept.pop(visitor, (0.0, deque()))
        return list(kept)

    def detach(self, visitor: str, link: Link) -> None:
        links = self._links.get(visitor)
        if links is not None:
            links.discard(link)
            if not links:
                del self._links[visitor]

    async def say(self, visitor: Visitor, message_id: str, text: str) -> Event:
        body = MessageBody(id=message_id, text=text, command=parse_command(text, self.bot.name))
        return await self._publish(self._event(visitor, "message.created", message_id, body))

    async def click(self, visitor: Visitor, button: str, message_id: str | None) -> Event:
        interaction = Interaction(id=button, message_id=message_id)
        click_id = f"{message_id}:{button}:{time.time_ns()}"
        return await self._publish(
            self._event(visitor, "interaction.clicked", click_id, interaction=interaction)
        )

    async def _publish(self, event: Event) -> Event:
        if self._context is None:
            raise TransientError("the web chat adapter is not started")
        await self._context.publish_event(event)
        return event

    def _event(
        self,
        visitor: Visitor,
        type_: EventType,
        id_: str,
        message: MessageBody | None = None,
        interaction: Interaction | None = None,
    ) -> Event:
        return direct_event(
            "webchat",
            self.bot.name,
            type_,
            f"webchat:{self.bot.name}:{visitor.id}:{type_}:{id_}",
            UserRef(id=visitor.id, name="visitor"),
            ChannelRef(id=visitor.id, type="direct", name="web chat"),
            message,
            interaction,
        )

    # the bot's side, called by the action runner

    async def send(self, action: Action) -> SendResult:
        frame = action_frame(action)
        message_id = frame.get("id") if action.type == "message.send" else action.message_id
        if frame and self.relay is not None:
            await self.relay.publish(self.bot.name, action.channel_id, frame)
        elif frame:
            await self.deliver(action.channel_id, frame)
        return SendResult(message_id=str(message_id) if message_id else None, text=action.text)

    async def deliver(self, visitor: str, frame: Frame) -> None:
        """Push a frame to the visitor's links here; keep it when there are none."""
        delivered = False
        for link in list(self._links.get(visitor, ())):
            try:
                await link.push(frame)
                delivered = True
            except ConnectionError:
                self.detach(visitor, link)
        if not delivered and frame["type"] != "typing":
            self._keep(visitor, frame)

    def _keep(self, visitor: str, frame: Frame) -> None:
        now = time.monotonic()
        # oldest first: the sweep stops at the first that is young enough
        while self._kept:
            name, (since, _) = next(iter(self._kept.items()))
            if now - since <= KEEP_SECONDS:
                break
            del self._kept[name]
        _, kept = self._kept.setdefault(visitor, (now, deque(maxlen=KEEP_OFFLINE)))
        kept.append(frame)

    def online(self, visitor: str) -> bool:
        return bool(self._links.get(visitor))

    def receiving(self) -> str:
        """How messages arrive, for the console's health page: visitors connected here (each
        gateway process holds its own visitors' sockets)."""
        return f"visitors' WebSockets, {len(self._links)} visitor(s) connected to this process"


def action_frame(action: Action) -> dict[str, Any]:
    """What the page is told of an action; {} for what it does not show (reactions)."""
    if action.type == "message.send":
        # every snapshot of a streamed answer replaces the one before: they share an id
        message_id = str(action.stream.id) if action.stream else str(action.id)
        return message_frame(message_id, "bot", action.text or "", action.format, action.buttons)
    if action.type == "message.edit" and action.message_id:
        return message_frame(action.message_id, "bot", action.text or "", action.format, [])
    if action.type == "message.delete" and action.message_id:
        return {"type": "delete", "id": action.message_id}
    if action.type == "typing":
        return {"type": "typing"}
    return {}


def message_frame(
    message_id: str, sender: str, text: str, text_format: str = "markdown", buttons: Any = ()
) -> dict[str, Any]:
    """A message as the page shows it: the bot's as safe HTML, the visitor's as text."""
    frame: dict[str, Any] = {"type": "message", "id": message_id, "from": sender}
    if sender == "bot":
        frame["html"] = to_html(text, text_format)
        frame["buttons"] = [_button(button) for button in buttons]
    else:
        frame["text"] = text
    return frame


def _button(button: Any) -> dict[str, str]:
    shown = {"id": button.id, "label": button.label}
    if button.url and str(button.url).lower().startswith(("https://", "http://")):
        shown["url"] = button.url
    return shown
