"""The tool contract: a `Tool` answers a `ToolCall` with `Reply`s; a `Responder` is one link of
a bot's chain (commands, knowledge base, assistant, fallback) and answers a `Turn` or passes.

A turn is one owed answer, as the core recorded it: the event, the rows it was filed under and
a stable id (an answer owed before a crash is answered after it under the same id, so the
actions it produces keep their ids and the adapters send them once)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gateway.events import Button, Citation, Event, TextFormat
from gateway.ids import derived_id
from store import people

if TYPE_CHECKING:
    from gateway.bus.base import Bus
    from gateway.config import BotConfig, Settings
    from gateway.kb.search import KnowledgeBase
    from gateway.tools.profiles import Profiles
    from gateway.tools.registry import ToolRegistry
    from store.database import Database


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()
    format: TextFormat = "markdown"
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class CommandSpec:
    """A tool as a platform's command menu shows it."""

    name: str
    description: str


@dataclass(frozen=True)
class Refs:
    """The rows the core filed the event under (None where the event has no such thing)."""

    bot_id: uuid.UUID
    channel_id: uuid.UUID | None = None  # platform_channels
    platform_user_id: uuid.UUID | None = None  # platform_users: the identity
    user_id: uuid.UUID | None = None  # users: the person behind it
    session_id: uuid.UUID | None = None

    def to_json(self) -> dict[str, str | None]:
        return {name: str(value) if value else None for name, value in self.__dict__.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Refs:
        values: dict[str, Any] = {
            k: uuid.UUID(v) if v else None for k, v in data.items() if k in _REF_NAMES
        }
        return cls(**values)


_REF_NAMES = {"bot_id", "channel_id", "platform_user_id", "user_id", "session_id"}


@dataclass(frozen=True)
class Services:
    """What tools may use beyond their call: the database, the bus, the registry, profiles."""

    settings: Settings
    db: Database
    bus: Bus
    registry: ToolRegistry
    profiles: Profiles
    kb: KnowledgeBase | None = None


class StreamSink(Protocol):
    """Shows an answer while it is written, where the platform can: `show` takes the answer so
    far (it is published at most once a second or so); the first reply the responder returns
    then replaces it, and is the answer kept."""

    async def show(self, text: str) -> None: ...


@dataclass(frozen=True)
class Turn:
    id: uuid.UUID  # stable across a crash: the owed answer's row
    event: Event
    bot: BotConfig
    refs: Refs
    services: Services
    language: str = "en"
    session_tools: tuple[str, ...] = ()  # tools a tool attached to this session
    traceparent: str | None = None  # the event's trace: tool calls are spans in it
    stream: StreamSink | None = None  # None: the platform shows only whole answers
    # What the turn's tool calls were, for the tool-call log (written with the answer).
    tool_calls: list[dict[str, Any]] = field(default_factory=list, compare=False, repr=False)

    def call(self, tool: str, args: str, round_: int = 0) -> ToolCall:
        return ToolCall(derived_id(self.id, f"{tool}:{round_}"), tool, args, self)


@dataclass(frozen=True)
class ToolCall:
    """One call of one tool. `id` is stable across a crash: a tool with side effects can use it
    to do them once."""

    id: uuid.UUID
    tool: str
    args: str
    turn: Turn = field(repr=False)

    @property
    def event(self) -> Event:
        return self.turn.event

    @property
    def bot(self) -> BotConfig:
        return self.turn.bot

    @property
    def refs(self) -> Refs:
        return self.turn.refs

    @property
    def services(self) -> Services:
        return self.turn.services

    async def attach_tools(self, names: list[str]) -> list[str]:
        """Give this conversation's session more of the bot's tools (a support flow adding
        `/escalate` for this conversation only); returns the names attached. `help` lists
        them for this session."""
        session_id = self.refs.session_id
        if session_id is None:
            return []
        async with self.services.db.transaction() as session:
            attached = await people.attach_tools(session, session_id, self.refs.bot_id, names)
        self.services.profiles.session_tools_changed(session_id)
        return attached


class Tool(Protocol):
    """A command the bot answers. `run` returns the replies, or raises ToolFailure (or anything
    else) for the runner to apologise; it must finish within `timeout` seconds."""

    name: str
    description: str
    timeout: float
    parameters: Mapping[str, Any] | None  # JSON Schema of its arguments, for the assistant

    async def run(self, call: ToolCall) -> list[Reply]: ...


class Responder(Protocol):
    """One link of a bot's chain: replies, or None to let the next link try."""

    async def respond(self, turn: Turn) -> list[Reply] | None: ...


class ToolFailure(Exception):
    """A tool could not answer; the message is for the logs, never shown to the person."""
