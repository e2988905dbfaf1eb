"""The interactions endpoint: Ed25519 verification, and interactions -> events + the answer.

Discord signs `timestamp + body` with the application's key (`X-Signature-Ed25519`,
`X-Signature-Timestamp`). PING is answered with PONG; application commands become
`command.invoked` and components `interaction.clicked`, answered at once with a deferred
response (Discord allows 3 seconds); the bot's reply goes out later as the follow-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

from adapters.base import InboundRequest, Parsed, WebhookReply
from adapters.discord.normalize import Json, build_event, channel_type, snowflake_time, user_ref
from adapters.payload import load_object, validate
from adapters.verify import check_window, required
from gateway.errors import PayloadError, SignatureError
from gateway.events import ChannelRef, Command, Event, MessageBody, clip
from gateway.events import Interaction as Interaction_

SIGNATURE_HEADER = "X-Signature-Ed25519"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE = 1, 2, 3, 4
PONG = WebhookReply(200, b'{"type":1}')
DEFERRED_MESSAGE = WebhookReply(200, b'{"type":5}')  # "thinking...", then the follow-up
DEFERRED_UPDATE = WebhookReply(200, b'{"type":6}')  # a click acknowledged, nothing shown yet
NO_CHOICES = WebhookReply(200, b'{"type":8,"data":{"choices":[]}}')
SUBCOMMAND_TYPES = frozenset({1, 2})


def load_public_key(hex_key: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(hex_key))
    except ValueError:
        raise ValueError("discord public_key must be the application's 64-hex-digit key") from None


def verify_signature(
    key: Ed25519PublicKey | None,
    request: InboundRequest,
    window_seconds: float,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless the request is signed by the application's key, recently."""
    if key is None:
        raise SignatureError("no discord public_key is configured for this bot")
    signature, timestamp = required(request, SIGNATURE_HEADER, TIMESTAMP_HEADER)
    check_window(timestamp, TIMESTAMP_HEADER, window_seconds, now)
    try:
        signature_bytes = bytes.fromhex(signature)
    except ValueError:
        raise SignatureError(f"{SIGNATURE_HEADER} is not hexadecimal") from None
    try:
        key.verify(signature_bytes, timestamp.encode() + request.body)
    except InvalidSignature:
        raise SignatureError("signature does not match the body") from None


@dataclass(frozen=True)
class Ticket:
    """What answering an interaction later needs: its webhook (application id + token)."""

    interaction_id: str
    application_id: str
    token: str


@dataclass(frozen=True)
class ParsedInteraction:
    parsed: Parsed
    ticket: Ticket | None  # None for PING and autocomplete: nothing will answer them later


Snowflake = Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]
OptionValue = str | int | float | bool


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class User(_Shape):
    id: Snowflake
    username: str | None = None
    global_name: str | None = None
    bot: bool | None = None


class Member(_Shape):
    user: User | None = None
    nick: str | None = None


class Channel(_Shape):
    id: Snowflake | None = None
    type: int | None = None
    name: str | None = None


class Option(_Shape):
    type: int | None = None
    name: str | None = None
    value: OptionValue | None = None
    options: list[Option] | None = None


class Data(_Shape):
    name: str | None = None
    options: list[Option] | None = None
    target_id: Snowflake | None = None
    custom_id: str | None = None
    values: list[OptionValue] | None = None


class MessageRef(_Shape):
    id: Snowflake | None = None


class Interaction(_Shape):
    """The fields of an application command or component interaction botgate reads."""

    type: int
    id: Snowflake
    application_id: Snowflake
    token: str = Field(min_length=1)
    data: Data
    member: Member | None = None
    user: User | None = None
    locale: str | None = None
    channel_id: Snowflake | None = None
    channel: Channel | None = None
    guild_id: Snowflake | None = None
    message: MessageRef | None = None

    @property
    def who(self) -> User:
        user = self.member.user if self.member is not None else self.user
        if user is None:
            raise PayloadError("discord interaction: `member.user` or `user` is required")
        return user


def parse_interaction(body: bytes, bot: str) -> ParsedInteraction:
    raw = load_object(body, "not a Discord interaction")
    kind = raw.get("type")
    if kind == PING:
        return ParsedInteraction(Parsed(reply=PONG), None)
    if kind == AUTOCOMPLETE:
        return ParsedInteraction(Parsed(reply=NO_CHOICES), None)
    if kind not in (APPLICATION_COMMAND, MESSAGE_COMPONENT) or isinstance(kind, bool):
        raise PayloadError(f"interaction type {clip(str(kind), 20)!r} is not handled")
    interaction = validate(Interaction, raw, "discord interaction")
    event = _to_event(interaction, raw, bot)
    ticket = Ticket(interaction.id, interaction.application_id, interaction.token)
    reply = DEFERRED_MESSAGE if kind == APPLICATION_COMMAND else DEFERRED_UPDATE
    return ParsedInteraction(Parsed(events=(event,), reply=reply), ticket)


def _to_event(interaction: Interaction, raw: Json, bot: str) -> Event:
    user, member = interaction.who, interaction.member
    common: dict[str, Any] = {
        "user": user_ref(user.model_dump(), member.model_dump() if member else None,
                         locale=interaction.locale),
        "occurred_at": snowflake_time(interaction.id),
        "raw": {k: v for k, v in raw.items() if k != "token"},  # a 15-minute credential
    }
    dedupe, channel = f"interaction:{interaction.id}", _channel(interaction)
    if interaction.type == APPLICATION_COMMAND:
        return build_event(
            "command.invoked", bot, dedupe, channel, message=_command(interaction), **common
        )
    return build_event(
        "interaction.clicked", bot, dedupe, channel, interaction=_click(interaction), **common
    )


def _channel(interaction: Interaction) -> ChannelRef:
    channel = interaction.channel or Channel()
    channel_id = interaction.channel_id or channel.id
    if channel_id is None:
        raise PayloadError("discord interaction: `channel_id` or `channel.id` is required")
    in_guild = interaction.guild_id is not None
    return ChannelRef(
        id=channel_id, type=channel_type(channel.type, in_guild), name=channel.name
    )


def _command(interaction: Interaction) -> MessageBody:
    data = interaction.data
    if not data.name:
        raise PayloadError("discord interaction: `data.name` is required for a command")
    name = data.name.lower()
    args = " ".join(_option_words(data.options or []))
    if not args and data.target_id:  # user and message context-menu commands
        args = data.target_id
    text = f"/{name} {args}".rstrip()
    return MessageBody(id=interaction.id, text=text, command=Command(name=name, args=args))


def _option_words(options: list[Option]) -> list[str]:
    """Subcommand names, then option values, in order: `/tag add name:x` -> 'add x'."""
    words: list[str] = []
    for option in options:
        if option.type in SUBCOMMAND_TYPES:
            words.append(option.name or "")
            words.extend(_option_words(option.options or []))
        elif option.value is not None:
            words.append(str(option.value))
    return words


def _click(interaction: Interaction) -> Interaction_:
    data = interaction.data
    if data.custom_id is None:
        raise PayloadError("discord interaction: `data.custom_id` is required for a component")
    values = data.values
    message = interaction.message
    return Interaction_(
        id=data.custom_id,
        value=",".join(str(v) for v in values) if values else None,
        message_id=message.id if message is not None else None,
    )
