"""`botgate replay`: re-publishes recorded messages as `botgate.event/1` events, in their
original order, for another service (a new consumer catching up, a rebuilt read model).

What is replayed is what the database kept: a message's text, speaker, channel, thread and
attachments, with the original event id and de-duplication key; not the platform's raw
payload. The target is a queue (when one of that name exists: published to it directly) or
else a routing key on the `botgate.replay` exchange. botgate's own queues (`botgate.*`) are
refused unless `allow_core`: the core must not record its history twice by accident.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Row

from gateway.bus.base import Bus, Message
from gateway.bus.topology import (
    DEFAULT_EXCHANGE,
    HEADER_REPLAY,
    HEADER_TRACEPARENT,
    REPLAY_EXCHANGE,
)
from gateway.errors import BotgateError
from gateway.events import (
    Attachment,
    ChannelRef,
    Event,
    MessageBody,
    UserRef,
    conversation_key,
    encode,
)
from gateway.tracing import new_traceparent
from store.database import Database
from store.history import Filters, messages, with_events
from store.models import Message as MessageRow

log = logging.getLogger(__name__)
WINDOW = 200  # publishes in flight at once; the bus sends them in the order they start
INBOUND_TYPES = ("message.created", "command.invoked")


class ReplayRefused(BotgateError):
    http_status = 400


async def target_of(bus: Bus, to: str, allow_core: bool) -> tuple[str, str]:
    """(exchange, routing key) for `--to`."""
    if not to or "\x00" in to:
        raise ReplayRefused("--to needs a queue name or a routing key")
    if to.startswith("botgate.") and not allow_core:
        raise ReplayRefused(
            f"--to {to!r} is one of botgate's own queues; replaying into it records history "
            "twice. Pass --allow-core if that is what you want"
        )
    if await bus.has_queue(to):
        return DEFAULT_EXCHANGE, to
    return REPLAY_EXCHANGE, to


async def replay(
    db: Database, bus: Bus, filters: Filters, exchange: str, routing_key: str
) -> tuple[int, int]:
    """Publish every matching message as an event, oldest first. Returns (published, skipped)."""
    published = skipped = 0
    batch: list[Message] = []
    async for row in _rows(db, filters):
        event = event_of(row)
        if event is None:
            skipped += 1
            continue
        batch.append(_message(event, exchange, routing_key))
        if len(batch) >= WINDOW:
            published += await _publish(bus, batch)
    published += await _publish(bus, batch)
    return published, skipped


async def _rows(db: Database, filters: Filters) -> AsyncIterator[Row[Any]]:
    query = with_events(messages(filters)).order_by(MessageRow.occurred_at, MessageRow.id)
    async with db.engine.connect() as connection:
        result = await connection.stream(query.execution_options(yield_per=2000))
        async for row in result:
            yield row


async def _publish(bus: Bus, batch: list[Message]) -> int:
    await asyncio.gather(*(bus.publish(message) for message in batch))
    count = len(batch)
    batch.clear()
    return count


def _message(event: Event, exchange: str, routing_key: str) -> Message:
    headers = {HEADER_TRACEPARENT: new_traceparent(), HEADER_REPLAY: "1"}
    return Message(exchange, routing_key, encode(event), str(event.id), headers, model=event)


def event_of(row: Row[Any]) -> Event | None:
    """The event a recorded message came from (or, for the bot's own, `message.sent`)."""
    stored = row  # the message's columns, with its channel, bot, speaker and event
    if row.bot is None:
        return None
    outbound = stored.direction == "out"
    kind = "message.sent" if outbound else row.event_type
    if kind not in (*INBOUND_TYPES, "message.sent"):
        kind = "message.created"
    user = None
    if row.user is not None and not outbound:
        user = UserRef(
            id=row.user,
            name=row.user_name,
            display_name=row.user_display_name,
            is_bot=bool(row.user_is_bot),
            locale=row.user_locale,
        )
    try:
        return Event(
            id=stored.event_id or stored.id,
            type=kind,
            platform=row.platform,
            bot=row.bot,
            dedupe_key=row.dedupe_key or f"{row.platform}:{row.bot}:replay:{stored.id}",
            occurred_at=stored.occurred_at,
            received_at=stored.occurred_at,
            conversation_key=conversation_key(row.platform, row.bot, row.channel, stored.thread_id),
            user=user,
            channel=ChannelRef(id=row.channel, type=row.channel_type),
            thread_id=stored.thread_id,
            message=MessageBody(
                id=stored.external_id,
                text=stored.text,
                reply_to_id=stored.reply_to_id,
                attachments=[Attachment.model_validate(a) for a in stored.attachments or []],
            ),
        )
    except ValidationError as exc:
        log.warning(
            "message %s cannot be replayed as an event: %s", stored.id, exc.errors()[0]["msg"]
        )
        return None
