"""Discord's wire objects (users, channels, messages) -> the botgate event schema's parts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.text import parse_command, strip_leading_mention
from gateway.events import (
    Attachment,
    ChannelRef,
    ChannelType,
    Event,
    EventType,
    MessageBody,
    UserRef,
    conversation_key,
)

Json = dict[str, Any]
DISCORD_EPOCH_MS = 1420070400000
DM, GROUP_DM = 1, 3
THREAD_TYPES = frozenset({10, 11, 12})  # announcement, public and private threads


def channel_type(kind: int | None, in_guild: bool) -> ChannelType:
    """The contract's channel type for a Discord channel type (None: not known)."""
    if kind == GROUP_DM:
        return "group"
    if kind == DM or not in_guild:
        return "direct"
    return "thread" if kind in THREAD_TYPES else "channel"


def user_ref(user: Json, member: Json | None = None, locale: str | None = None) -> UserRef:
    display = (member or {}).get("nick") or user.get("global_name")
    return UserRef(
        id=str(user["id"]),
        name=user.get("username"),
        display_name=display,
        is_bot=bool(user.get("bot")),
        locale=locale,
    )


def snowflake_time(snowflake: str) -> datetime:
    """When Discord created the object with this id."""
    return datetime.fromtimestamp(((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def message_body(message: Json, bot_id: str, bot_username: str | None) -> MessageBody:
    content = message.get("content") or ""
    mentions = [str(user["id"]) for user in message.get("mentions") or []]
    text, leading = strip_leading_mention(content, (f"<@{bot_id}>", f"<@!{bot_id}>"))
    return MessageBody(
        id=str(message["id"]),
        text=content,
        reply_to_id=reply_target(message),
        mentions_bot=leading or bot_id in mentions,
        mentions=mentions,
        attachments=attachments(message),
        command=parse_command(text, bot_username),
        reply_to_bot=_replied_author(message) == bot_id,
    )


def reply_target(message: Json) -> str | None:
    """The replied-to message id; forwards (reference type 1) are not replies."""
    reference = message.get("message_reference") or {}
    if reference.get("type", 0) != 0 or not reference.get("message_id"):
        return None
    return str(reference["message_id"])


def _replied_author(message: Json) -> str | None:
    if reply_target(message) is None:
        return None
    author = (message.get("referenced_message") or {}).get("author") or {}
    return str(author["id"]) if "id" in author else None


def attachments(message: Json) -> list[Attachment]:
    files = [_attachment(item) for item in message.get("attachments") or []]
    stickers = [
        Attachment(kind="sticker", id=str(item["id"]), name=item.get("name"))
        for item in message.get("sticker_items") or []
    ]
    return files + stickers


def _attachment(item: Json) -> Attachment:
    mime = item.get("content_type")
    return Attachment(
        kind=_kind(mime, item.get("duration_secs") is not None),
        id=str(item["id"]),
        name=item.get("filename"),
        mime_type=mime,
        size=item.get("size"),
        url=item.get("url"),
    )


def _kind(mime: str | None, is_voice_message: bool) -> str:
    family = (mime or "").split("/", 1)[0]
    if is_voice_message:
        return "voice"
    return {"image": "photo", "video": "video", "audio": "audio"}.get(family, "document")


def build_event(
    type: EventType,
    bot: str,
    dedupe: str,
    channel: ChannelRef,
    raw: Json,
    occurred_at: datetime | None = None,
    **fields: Any,
) -> Event:
    """An event of this bot; `dedupe` is the part of the de-duplication key after the bot."""
    received_at = datetime.now(UTC)
    return Event(
        type=type,
        platform="discord",
        bot=bot,
        dedupe_key=f"discord:{bot}:{dedupe}",
        occurred_at=occurred_at or received_at,
        received_at=received_at,
        conversation_key=conversation_key("discord", bot, channel.id, None),
        channel=channel,
        raw=raw,
        **fields,
    )
