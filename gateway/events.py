"""The wire schemas: events (`botgate.event/1`) and actions (`botgate.action/1`).

Models are strict and frozen: an invalid event is rejected whole, with the reason.
`encode`/`decode_*` are the only way they cross the bus.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import PermanentError
from gateway.ids import new_id

EVENT_SCHEMA: Literal["botgate.event/1"] = "botgate.event/1"
ACTION_SCHEMA: Literal["botgate.action/1"] = "botgate.action/1"

Platform = Literal["telegram", "slack", "discord", "generic", "console"]
ChannelType = Literal["direct", "group", "channel", "thread"]
EventType = Literal[
    "message.created",
    "message.updated",
    "message.deleted",
    "message.sent",
    "reaction.added",
    "reaction.removed",
    "command.invoked",
    "interaction.clicked",
    "member.joined",
    "member.left",
    "bot.added",
    "bot.removed",
]
ActionType = Literal["message.send", "message.edit", "message.delete", "reaction.add", "typing"]
TextFormat = Literal["plain", "markdown"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class UserRef(_Model):
    id: str = Field(min_length=1)
    name: str | None = None
    display_name: str | None = None
    is_bot: bool = False
    locale: str | None = None


class ChannelRef(_Model):
    id: str = Field(min_length=1)
    type: ChannelType = "direct"
    name: str | None = None


class Attachment(_Model):
    kind: str  # photo, document, voice, video, sticker, file, ...
    id: str | None = None
    name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    url: str | None = None


class Command(_Model):
    name: str = Field(min_length=1)
    args: str = ""


class MessageBody(_Model):
    id: str = Field(min_length=1)
    text: str = ""
    reply_to_id: str | None = None
    mentions_bot: bool = False
    mentions: list[str] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    command: Command | None = None
    # Set on message.sent: the reply to which inbound event produced this outbound message.
    in_reply_to: UUID | None = None
    # Set on replies to the bot's own messages: lets the core answer "reply to the bot" in groups.
    reply_to_bot: bool = False
    # Set on message.sent: the knowledge-base passages the bot's message cites.
    citations: list[Citation] = Field(default_factory=list)


class Citation(_Model):
    """A knowledge-base passage an answer was taken from, kept with the message that cites it."""

    document: str  # the document's path in its collection
    title: str = ""
    heading: str | None = None
    url: str | None = None
    collection: str | None = None
    passage_id: str | None = None
    score: float | None = None


class Reaction(_Model):
    emoji: str
    message_id: str


class Interaction(_Model):
    id: str  # the button / callback data / custom id
    value: str | None = None
    message_id: str | None = None


class Delivery(_Model):
    attempt: int = Field(1, ge=1)
    retry_reason: str | None = None


class Event(_Model):
    schema_: Literal["botgate.event/1"] = Field(EVENT_SCHEMA, alias="schema")
    id: UUID = Field(default_factory=new_id)
    type: EventType
    platform: Platform
    bot: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    dedupe_key: str = Field(min_length=1, max_length=512)
    occurred_at: datetime
    received_at: datetime = Field(default_factory=utcnow)
    delivery: Delivery = Field(default_factory=Delivery)
    conversation_key: str = Field(min_length=1)
    user: UserRef | None = None
    channel: ChannelRef
    thread_id: str | None = None
    message: MessageBody | None = None
    reaction: Reaction | None = None
    interaction: Interaction | None = None
    raw: dict[str, Any] = Field(default_factory=dict)

    @property
    def routing_key(self) -> str:
        return f"{self.platform}.{self.bot}.{self.type}"


class Button(_Model):
    id: str = Field(min_length=1, max_length=100)
    label: str = Field(min_length=1, max_length=80)
    url: str | None = None


class StreamRef(_Model):
    """Marks a `message.send` as one snapshot of an answer shown while it is written. Every
    snapshot of one answer names the same stream `id` and carries the whole text so far; the
    adapter sends the first and edits (or drafts) that message with the later ones, and the
    `final` one is the answer kept: only it is recorded and reported as `message.sent`."""

    id: UUID
    seq: int = Field(ge=0)  # snapshot number, in the order published
    final: bool = False


class Action(_Model):
    schema_: Literal["botgate.action/1"] = Field(ACTION_SCHEMA, alias="schema")
    id: UUID = Field(default_factory=new_id)
    type: ActionType
    platform: Platform
    bot: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    channel_id: str = Field(min_length=1)
    thread_id: str | None = None
    reply_to_id: str | None = None
    in_reply_to: UUID | None = None
    message_id: str | None = None  # the target of edit / delete / reaction.add
    text: str | None = None
    format: TextFormat = "markdown"
    buttons: list[Button] = Field(default_factory=list)
    emoji: str | None = None
    citations: list[Citation] = Field(default_factory=list)  # what a message.send cites
    stream: StreamRef | None = None  # a snapshot of an answer being written (message.send)

    @property
    def routing_key(self) -> str:
        return f"{self.platform}.{self.bot}"

    @property
    def snapshot(self) -> bool:
        """A passing state of a streamed answer (not its final text)."""
        return self.stream is not None and not self.stream.final


def conversation_key(platform: str, bot: str, channel_id: str, thread_id: str | None) -> str:
    base = f"{platform}:{bot}:{channel_id}"
    return f"{base}:{thread_id}" if thread_id else base


def encode(model: Event | Action) -> bytes:
    return model.model_dump_json(by_alias=True).encode()


def decode_event(body: bytes, model: object = None) -> Event:
    """The event in `body`; `model` is the publisher's own, when the bus carried it."""
    if isinstance(model, Event):
        return model
    try:
        return Event.model_validate_json(body)
    except ValidationError as exc:
        raise PermanentError(f"invalid event: {_first_errors(exc)}") from None


def decode_action(body: bytes, model: object = None) -> Action:
    if isinstance(model, Action):
        return model
    try:
        return Action.model_validate_json(body)
    except ValidationError as exc:
        raise PermanentError(f"invalid action: {_first_errors(exc)}") from None


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
