"""The interactions endpoint: Ed25519 verification, and interactions -> events + the answer.

Discord signs `timestamp + body` with the application's key (`X-Signature-Ed25519`,
`X-Signature-Timestamp`). PING is answered with PONG; application commands become
`command.invoked` and components `interaction.clicked`, answered at once with a deferred
response (Discord allows 3 seconds); the bot's reply goes out later as the follow-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from adapters.base import InboundRequest, Parsed, WebhookReply
from adapters.discord.normalize import Json, build_event, channel_type, snowflake_time, user_ref
from adapters.verify import check_window, required
from gateway import codec
from gateway.errors import PayloadError, SignatureError
from gateway.events import ChannelRef, Command, Event, Interaction, MessageBody

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


def parse_interaction(body: bytes, bot: str) -> ParsedInteraction:
    try:
        interaction = codec.loads(body)
        kind = interaction["type"]
    except (codec.JSONDecodeError, TypeError, KeyError):
        raise PayloadError("not a Discord interaction") from None
    if kind == PING:
        return ParsedInteraction(Parsed(reply=PONG), None)
    if kind == AUTOCOMPLETE:
        return ParsedInteraction(Parsed(reply=NO_CHOICES), None)
    if kind not in (APPLICATION_COMMAND, MESSAGE_COMPONENT):
        raise PayloadError(f"interaction type {kind} is not handled")
    try:
        event = _to_event(interaction, bot)
        ticket = Ticket(
            str(interaction["id"]), str(interaction["application_id"]), str(interaction["token"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"interaction lacks {exc}") from None
    reply = DEFERRED_MESSAGE if kind == APPLICATION_COMMAND else DEFERRED_UPDATE
    return ParsedInteraction(Parsed(events=(event,), reply=reply), ticket)


def _to_event(interaction: Json, bot: str) -> Event:
    member = interaction.get("member")
    user = member["user"] if member else interaction["user"]
    interaction_id = str(interaction["id"])
    common: dict[str, Any] = {
        "user": user_ref(user, member, locale=interaction.get("locale")),
        "occurred_at": snowflake_time(interaction_id),
        "raw": {k: v for k, v in interaction.items() if k != "token"},  # a 15-minute credential
    }
    dedupe, channel = f"interaction:{interaction_id}", _channel(interaction)
    if interaction["type"] == APPLICATION_COMMAND:
        return build_event(
            "command.invoked", bot, dedupe, channel, message=_command(interaction), **common
        )
    return build_event(
        "interaction.clicked", bot, dedupe, channel, interaction=_click(interaction), **common
    )


def _channel(interaction: Json) -> ChannelRef:
    channel = interaction.get("channel") or {}
    in_guild = "guild_id" in interaction
    return ChannelRef(
        id=str(interaction.get("channel_id") or channel["id"]),
        type=channel_type(channel.get("type"), in_guild),
        name=channel.get("name"),
    )


def _command(interaction: Json) -> MessageBody:
    data = interaction["data"]
    name = str(data["name"]).lower()
    args = " ".join(_option_words(data.get("options") or []))
    if not args and data.get("target_id"):  # user and message context-menu commands
        args = str(data["target_id"])
    text = f"/{name} {args}".rstrip()
    return MessageBody(id=str(interaction["id"]), text=text, command=Command(name=name, args=args))


def _option_words(options: list[Json]) -> list[str]:
    """Subcommand names, then option values, in order: `/tag add name:x` -> 'add x'."""
    words: list[str] = []
    for option in options:
        if option.get("type") in SUBCOMMAND_TYPES:
            words.append(str(option["name"]))
            words.extend(_option_words(option.get("options") or []))
        elif option.get("value") is not None:
            words.append(str(option["value"]))
    return words


def _click(interaction: Json) -> Interaction:
    data = interaction["data"]
    values = data.get("values")
    message = interaction.get("message") or {}
    return Interaction(
        id=str(data["custom_id"]),
        value=",".join(str(v) for v in values) if values else None,
        message_id=str(message["id"]) if "id" in message else None,
    )
