"""Records one event in the caller's transaction and works out the bot's answer to it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import Settings
from gateway.core.dispatch import Dispatcher, should_answer, to_actions
from gateway.core.tools import ToolContext
from gateway.events import Action, Event, utcnow
from store import records

INBOUND_MESSAGE_TYPES = frozenset({"message.created", "command.invoked"})


@dataclass
class Outcome:
    event: Event
    duplicate: bool = False
    actions: list[Action] = field(default_factory=list)  # to publish now
    replies: list[Action] = field(default_factory=list)  # the answer to a waiting webhook


@dataclass
class _Refs:
    channel_id: uuid.UUID
    user_id: uuid.UUID | None
    session_id: uuid.UUID | None = None


class Recorder:
    def __init__(self, settings: Settings, dispatcher: Dispatcher, bot_ids: dict[str, uuid.UUID]):
        self.settings = settings
        self.dispatcher = dispatcher
        self.bot_ids = bot_ids

    async def record(self, db: AsyncSession, event: Event, attempt: int) -> Outcome:
        """De-duplicate, record, dispatch. A redelivered duplicate (attempt > 1: we may have
        crashed before publishing) re-publishes the stored actions; a platform's duplicate
        (attempt 1) publishes nothing again."""
        previous = await records.claim(db, event, utcnow())
        if previous is not None:
            stored = [Action.model_validate(a) for a in previous.result.get("actions", [])]
            return Outcome(event, True, stored if attempt > 1 else [], stored)
        refs = await self._store(db, event)
        actions = await self._answer(db, event, refs) if should_answer(event) else []
        if actions:
            dumped = [a.model_dump(mode="json", by_alias=True) for a in actions]
            await records.save_result(db, event.dedupe_key, {"actions": dumped})
        return Outcome(event, False, actions, actions)

    async def _store(self, db: AsyncSession, event: Event) -> _Refs:
        now = utcnow()
        outbound = event.type == "message.sent"
        channel_id = await records.upsert_channel(
            db, event.platform, event.channel, now, authoritative=not outbound
        )
        user_id = None
        if event.user is not None and not outbound:
            user_id = await records.upsert_user(db, event.platform, event.user, event.occurred_at)
        refs = _Refs(channel_id, user_id)
        await self._store_message(db, event, refs)
        return refs

    async def _store_message(self, db: AsyncSession, event: Event, refs: _Refs) -> None:
        message, bot_id = event.message, self.bot_ids[event.bot]
        if event.type in INBOUND_MESSAGE_TYPES | {"interaction.clicked"} and refs.user_id:
            refs.session_id = await records.touch_session(
                db,
                bot_id,
                refs.user_id,
                refs.channel_id,
                event.occurred_at,
                self.settings.sessions.idle_timeout,
            )
        if event.interaction is not None:
            await records.insert_click(db, self._click_row(event, refs))
        if message is None:
            return
        if event.type in INBOUND_MESSAGE_TYPES:
            await records.insert_message(db, self._message_row(event, refs, "in"))
        elif event.type == "message.sent":
            refs.session_id = await self._session_of_reply(db, event, refs)
            await records.insert_message(db, self._message_row(event, refs, "out"))
        elif event.type == "message.updated":
            await records.edit_message(
                db, refs.channel_id, message.id, message.text, event.occurred_at
            )
        elif event.type == "message.deleted":
            await records.mark_deleted(db, refs.channel_id, message.id, event.occurred_at)

    async def _session_of_reply(
        self, db: AsyncSession, event: Event, refs: _Refs
    ) -> uuid.UUID | None:
        assert event.message is not None
        if event.message.in_reply_to is not None:
            found = await records.session_of_event(db, event.message.in_reply_to)
            if found is not None:
                return found
        return await records.latest_session_in_channel(db, self.bot_ids[event.bot], refs.channel_id)

    def _message_row(self, event: Event, refs: _Refs, direction: str) -> dict[str, object]:
        assert event.message is not None
        return {
            "direction": direction,
            "external_id": event.message.id,
            "platform_channel_id": refs.channel_id,
            "platform_user_id": refs.user_id,
            "session_id": refs.session_id,
            "bot_id": self.bot_ids[event.bot],
            "event_id": event.id,
            "text": event.message.text,
            "thread_id": event.thread_id,
            "reply_to_id": event.message.reply_to_id,
            "attachments": [a.model_dump(mode="json") for a in event.message.attachments],
            "occurred_at": event.occurred_at,
        }

    def _click_row(self, event: Event, refs: _Refs) -> dict[str, object]:
        assert event.interaction is not None
        return {
            "bot_id": self.bot_ids[event.bot],
            "platform_user_id": refs.user_id,
            "platform_channel_id": refs.channel_id,
            "message_external_id": event.interaction.message_id,
            "interaction_id": event.interaction.id,
            "value": event.interaction.value,
            "event_id": event.id,
        }

    async def _answer(self, db: AsyncSession, event: Event, refs: _Refs) -> list[Action]:
        bot = self.settings.bot(event.bot)
        assert bot is not None
        context = ToolContext(
            event, bot, self.bot_ids[event.bot], refs.session_id, db, self.dispatcher.tools_of(bot)
        )
        return to_actions(event, await self.dispatcher.replies(context))
