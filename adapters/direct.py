"""Events of the in-process adapters (the terminal's `botgate chat`, the web chat): one person
in a direct channel with the bot, received the moment they happen."""

from __future__ import annotations

from gateway.events import (
    ChannelRef,
    Event,
    EventType,
    Interaction,
    MessageBody,
    UserRef,
    conversation_key,
    utcnow,
)


def direct_event(
    platform: str,
    bot: str,
    type_: EventType,
    dedupe_key: str,
    user: UserRef,
    channel: ChannelRef,
    message: MessageBody | None = None,
    interaction: Interaction | None = None,
) -> Event:
    now = utcnow()
    return Event(
        type=type_,
        platform=platform,
        bot=bot,
        dedupe_key=dedupe_key,
        occurred_at=now,
        received_at=now,
        conversation_key=conversation_key(platform, bot, channel.id, None),
        user=user,
        channel=channel,
        message=message,
        interaction=interaction,
    )
