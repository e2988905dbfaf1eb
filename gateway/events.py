"""The wire schemas: events (`botgate.event/1`), actions (`botgate.action/1`) and tool calls
(`botgate.tool_call/1`, with the answer a tool gives).

Models are strict and frozen: an invalid event is rejected whole, with the reason.
`encode`/`decode_*` are the only way they cross the bus.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import PermanentError
from gateway.ids import new_id

EVENT_SCHEMA: Literal["botgate.event/1"] = "botgate.event/1"
ACTION_SCHEMA: Literal["botgate.action/1"] = "botgate.action/1"
TOOL_CALL_SCHEMA: Literal["botgate.tool_call/1"] = "botgate.tool_call/1"

Platform = Literal["telegram", "slack", "discord", "generic", "console", "webchat"]
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


# What the store's columns hold (tests/store/test_limits.py keeps them in step): an event
# that fits is one the core can always record. Identifiers over their limit are refused (a cut
# identifier would name another user or message); names are cut, ending in CLIPPED.
ID_MAX = 256
NAME_MAX = 256
LOCALE_MAX = 32
DEDUPE_KEY_MAX = 512
CLIPPED = "\u2026"


def utcnow() -> datetime:
    return datetime.now(UTC)


def clip(value: str | None, limit: int) -> str | None:
    """`value` cut to `limit` characters, its last one CLIPPED when cut."""
    if value is None or len(value) <= limit:
        return value
    return value[: limit - 1] + CLIPPED


def fit_key(key: str) -> str:
    """A de-duplication key within DEDUPE_KEY_MAX: a longer one keeps its start and ends with
    the SHA-256 of the whole, so it stays as unique and as stable as the key itself."""
    if len(key) <= DEDUPE_KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{key[: DEDUPE_KEY_MAX - len(digest) - 1]}#{digest}"


def _clipper(limit: int) -> AfterValidator:
    return AfterValidator(lambda value: clip(value, limit))


ExternalId = Annotated[str, Field(min_length=1, max_length=ID_MAX)]
Name = Annotated[str | None, _clipper(NAME_MAX)]
Locale = Annotated[str | None, _clipper(LOCALE_MAX)]
DedupeKey = Annotated[str, Field(min_length=1), AfterValidator(fit_key)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class UserRef(_Model):
    id: ExternalId
    name: Name = None
    display_name: Name = None
    is_bot: bool = False
    locale: Locale = None


class ChannelRef(_Model):
    id: ExternalId
    type: ChannelType = "direct"
    name: Name = None


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
    id: ExternalId
    text: str = ""
    reply_to_id: ExternalId | None = None
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
    id: Annotated[str, Field(max_length=ID_MAX)]  # the button / callback data / custom id
    value: str | None = None
    message_id: ExternalId | None = None


class Delivery(_Model):
    attempt: int = Field(1, ge=1)
    retry_reason: str | None = None


# The delivery of an event just received, shared: models are frozen, and building one per
# event (the default factory) is a pydantic call on every webhook.
FIRST_DELIVERY = Delivery()


class Event(_Model):
    schema_: Literal["botgate.event/1"] = Field(EVENT_SCHEMA, alias="schema")
    id: UUID = Field(default_factory=new_id)
    type: EventType
    platform: Platform
    bot: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    dedupe_key: DedupeKey
    occurred_at: datetime
    received_at: datetime = Field(default_factory=utcnow)
    delivery: Delivery = Field(default_factory=Delivery)
    conversation_key: str = Field(min_length=1)
    user: UserRef | None = None
    channel: ChannelRef
    thread_id: ExternalId | None = None
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


class ToolCall(_Model):
    """What an `http` or `bus` tool is called with (CONTRACT section 5a). `event` is the event
    that invoked it; a tool run by an automation on a schedule has none (nor user or session)."""

    schema_: Literal["botgate.tool_call/1"] = Field(TOOL_CALL_SCHEMA, alias="schema")
    id: UUID = Field(default_factory=new_id)
    tool: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    args: str = ""
    platform: Platform
    bot: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    session_id: UUID | None = None
    user: UserRef | None = None
    channel: ChannelRef
    event: Event | None = None

    @classmethod
    def for_event(
        cls, event: Event, tool: str, args: str, session_id: UUID | None = None
    ) -> ToolCall:
        return cls(
            tool=tool,
            args=args,
            platform=event.platform,
            bot=event.bot,
            session_id=session_id,
            user=event.user,
            channel=event.channel,
            event=event,
        )


class ToolReply(_Model):
    text: str
    buttons: list[Button] = Field(default_factory=list)


class ToolAnswer(_Model):
    """A tool's answer: `200 {"replies": [...]}` over HTTP, the same body on the bus."""

    replies: list[ToolReply] = Field(default_factory=list)


def conversation_key(platform: str, bot: str, channel_id: str, thread_id: str | None) -> str:
    base = f"{platform}:{bot}:{channel_id}"
    return f"{base}:{thread_id}" if thread_id else base


def encode(model: Event | Action | ToolCall) -> bytes:
    """The model's JSON (by alias), as `model_dump_json` writes it: the serializer's bytes
    directly, without the detour through `str` (and its keyword arguments) that took twice
    as long."""
    return model.__pydantic_serializer__.to_json(model, by_alias=True)


def decode_event(body: bytes, model: object = None) -> Event:
    """The event in `body`; `model` is the publisher's own, when the bus carried it."""
    if isinstance(model, Event):
        return model
    try:
        return Event.model_validate_json(body)
    except ValidationError as exc:
        raise PermanentError(f"invalid event: {describe_errors(exc)}") from None


def decode_action(body: bytes, model: object = None) -> Action:
    if isinstance(model, Action):
        return model
    try:
        return Action.model_validate_json(body)
    except ValidationError as exc:
        raise PermanentError(f"invalid action: {describe_errors(exc)}") from None


def describe_errors(exc: ValidationError, limit: int = 3) -> str:
    """Where and what, e.g. `message.date: Input should be ...`: never the value itself."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
