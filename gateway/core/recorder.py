"""Records a batch of events in the caller's transaction, with what the bot owes for them.

The batch is written set-based (a handful of statements whatever its size) while the
per-event meaning stays that of processing the events one by one, in order. For every event
the bot is to answer, an owed answer (`store.outbox`) is written in the same transaction;
the answering itself happens after the commit (gateway/core/answers.py). The recorder knows
nothing of tools.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel

from gateway.config import Settings
from gateway.core.cache import BoundedCache
from gateway.events import Action, Event, utcnow
from gateway.ids import new_id
from gateway.tools.base import Refs
from store import outbox, records
from store.database import CoreConnection, complete

if TYPE_CHECKING:
    from gateway.core.answers import Settled

INBOUND_MESSAGE_TYPES = frozenset({"message.created", "command.invoked"})
OUTBOUND = "message.sent"  # the bot's own message: no speaker, no say over the channel
SESSION_TYPES = INBOUND_MESSAGE_TYPES | {"interaction.clicked"}
CHANGE_TYPES = frozenset({"message.updated", "message.deleted"})
ANSWERED_TYPES = frozenset({"message.created", "command.invoked", "interaction.clicked"})


def should_answer(event: Event) -> bool:
    """Every message in direct channels; elsewhere only what is addressed to the bot; never
    a bot's message."""
    if event.type not in ANSWERED_TYPES or (event.user is not None and event.user.is_bot):
        return False
    if event.type in {"command.invoked", "interaction.clicked"} or event.channel.type == "direct":
        return True
    message = event.message
    return message is not None and (
        message.command is not None or message.mentions_bot or message.reply_to_bot
    )


@dataclass(frozen=True)
class Arrival:
    """An event as it came off the bus: its body (kept as the owed answer's copy) and what the
    answer needs to travel with (a waiting webhook, the trace)."""

    event: Event
    body: bytes
    attempt: int = 1
    reply_to: str | None = None
    traceparent: str | None = None


@dataclass
class Outcome:
    event: Event
    ledger_id: uuid.UUID | None = None  # the row that claimed it (None: a duplicate)
    refs: Refs | None = None  # set when an answer is owed
    replies: list[Action] | None = None  # a duplicate's stored answer, if it has one

    @property
    def duplicate(self) -> bool:
        return self.ledger_id is None

    @property
    def owed(self) -> bool:
        return self.refs is not None


@dataclass(slots=True)
class _Refs:
    channel_id: uuid.UUID
    user_id: uuid.UUID | None  # the platform identity (platform_users)
    session_id: uuid.UUID | None = None
    person_id: uuid.UUID | None = None  # the person behind it (users)
    # False when another event already brought this platform message (Slack sends a mention
    # as `message` and as `app_mention`): it is recorded once and answered once.
    first_sighting: bool = True


class Recorder:
    def __init__(self, settings: Settings, bot_ids: dict[str, uuid.UUID], owner: str) -> None:
        self.settings = settings
        self.bot_ids = bot_ids
        self.owner = owner  # who claims the answers owed (gateway.core.answers.Answerer)
        self.lease = settings.core.answer_lease
        # Spare the bot's own sends a round trip: the channel and the session of the message
        # they answer were nearly always just written by this process.
        self.channel_ids: BoundedCache[records.ChannelKey, uuid.UUID] = BoundedCache()
        self.session_of_event: BoundedCache[uuid.UUID, uuid.UUID] = BoundedCache()

    def forget_cached(self) -> None:
        """After a failed batch: what it cached may have been rolled back."""
        self.channel_ids.clear()
        self.session_of_event.clear()

    async def record(
        self, db: CoreConnection, batch: Sequence[Arrival], settle: Settled | None = None
    ) -> list[Outcome]:
        """De-duplicate, record, and owe answers; one Outcome per arrival, in order. `settle`
        (answers published since the last batch) is written in the same transaction."""
        return await complete(db, self._write, batch, settle)

    async def _write(
        self, db: CoreConnection, batch: Sequence[Arrival], settle: Settled | None
    ) -> list[Outcome]:
        """The database-only part: ledger, people, channels, sessions, messages, owed answers."""
        if settle:  # first, so that a duplicate in this batch finds its first's answer
            await settle.write(db)
        claimed, earlier = await records.claim(db, [a.event for a in batch], utcnow())
        outcomes: list[Outcome] = []
        first_of: dict[str, tuple[Arrival, Outcome]] = {}
        for arrival in batch:
            key = arrival.event.dedupe_key
            if key in claimed and key not in first_of:
                first_of[key] = (arrival, Outcome(arrival.event, claimed[key]))
                outcomes.append(first_of[key][1])
            else:
                outcomes.append(self._duplicate(arrival.event, earlier.get(key)))
        fresh = list(first_of.values())
        refs = await self._store(db, [outcome.event for _, outcome in fresh])
        await outbox.owe(db, self._owed_rows(fresh, refs))
        return outcomes

    def _owed_rows(
        self, fresh: list[tuple[Arrival, Outcome]], refs: list[_Refs]
    ) -> list[tuple[Any, ...]]:
        """Rows of `outbox.OWED_COLUMNS`."""
        now = utcnow()
        until = now + self.lease
        rows: list[tuple[Any, ...]] = []
        for (arrival, outcome), ref in zip(fresh, refs, strict=True):
            event = arrival.event
            if not (should_answer(event) and ref.first_sighting):
                continue
            bot_id = self.bot_ids[event.bot]
            outcome.refs = Refs(bot_id, ref.channel_id, ref.user_id, ref.person_id, ref.session_id)
            rows.append(
                (
                    outcome.ledger_id,
                    event.id,
                    bot_id,
                    event.conversation_key,
                    orjson.Fragment(arrival.body),
                    # Refs.to_json's document: orjson writes the UUIDs as their text
                    {
                        "bot_id": bot_id,
                        "channel_id": ref.channel_id,
                        "platform_user_id": ref.user_id,
                        "user_id": ref.person_id,
                        "session_id": ref.session_id,
                    },
                    arrival.reply_to,
                    arrival.traceparent,
                    self.owner,
                    until,
                    1,  # attempts
                    # a microsecond apart: answers taken over after a crash keep their order
                    now + timedelta(microseconds=len(rows)),
                )
            )
        return rows

    @staticmethod
    def _duplicate(event: Event, result: dict[str, Any] | None) -> Outcome:
        if not result or "actions" not in result:
            return Outcome(event)  # not answered yet, or nothing to answer
        return Outcome(event, replies=[Action.model_validate(a) for a in result["actions"]])

    async def _store(self, db: CoreConnection, events: list[Event]) -> list[_Refs]:
        """What each event was filed under, in the order of `events`."""
        refs = [_Refs(channel_id, None) for channel_id in await self._channels(db, events)]
        speakers = [
            (e, e.user, ref)
            for e, ref in zip(events, refs, strict=True)
            if e.user is not None and e.type != OUTBOUND
        ]
        users = await records.upsert_users(
            db, [(e.platform, user, e.occurred_at) for e, user, _ in speakers]
        )
        for e, user, ref in speakers:
            speaker = users[(e.platform, user.id)]
            ref.user_id, ref.person_id = speaker.platform_user_id, speaker.user_id
        filed = list(zip(events, refs, strict=True))
        await self._open_sessions(db, filed)
        await self._store_messages(db, filed)
        return refs

    async def _channels(self, db: CoreConnection, events: list[Event]) -> list[uuid.UUID]:
        """Each event's channel id. Inbound events state their channel (upserted); the bot's
        sends only need its id."""
        keys = [(self.bot_ids[e.bot], e.platform, e.channel.id) for e in events]
        known: dict[records.ChannelKey, uuid.UUID] = {}
        wanted = []
        for event, key in zip(events, keys, strict=True):
            cached = self.channel_ids.get(key) if event.type == OUTBOUND else None
            if cached is not None:
                known[key] = cached
            else:
                wanted.append((key[0], event.platform, event.channel, event.type != OUTBOUND))
        written = await records.upsert_channels(db, wanted, utcnow())
        for written_key, channel_id in written.items():
            self.channel_ids.put(written_key, channel_id)
        known |= written
        return [known[key] for key in keys]

    async def _open_sessions(self, db: CoreConnection, filed: list[tuple[Event, _Refs]]) -> None:
        book = records.SessionBook(self.settings.sessions.idle_timeout)
        keyed = [
            (e, ref, key)
            for e, ref in filed
            if e.type in SESSION_TYPES and (key := self._session_key(e, ref)) is not None
        ]
        await book.load(db, {key for _, _, key in keyed})
        for event, ref, key in keyed:
            ref.session_id = book.touch(key, event.occurred_at)
            self.session_of_event.put(event.id, ref.session_id)
        await book.flush(db, utcnow())

    def _session_key(self, event: Event, ref: _Refs) -> records.SessionKey | None:
        if ref.user_id is None:
            return None
        return (self.bot_ids[event.bot], ref.user_id, ref.channel_id)

    async def _store_messages(self, db: CoreConnection, filed: list[tuple[Event, _Refs]]) -> None:
        await self._file_replies(db, [(e, ref) for e, ref in filed if e.type == OUTBOUND])
        rows = [
            self._message_row(e, ref, "out" if e.type == OUTBOUND else "in")
            for e, ref in filed
            if e.message is not None and (e.type in INBOUND_MESSAGE_TYPES or e.type == OUTBOUND)
        ]
        inserted = await records.insert_messages(db, rows)
        self._mark_first_sightings(filed, inserted)
        await records.insert_clicks(
            db, [self._click_row(e, ref) for e, ref in filed if e.interaction]
        )
        for event, ref in filed:
            if event.type in CHANGE_TYPES:  # rare: spare the others a coroutine each
                await self._apply_change(db, event, ref)

    @staticmethod
    def _mark_first_sightings(
        filed: list[tuple[Event, _Refs]], inserted: set[tuple[uuid.UUID, str]]
    ) -> None:
        for event, ref in filed:
            if event.message is not None and event.type in INBOUND_MESSAGE_TYPES:
                key = (ref.channel_id, event.message.id)
                ref.first_sighting = key in inserted
                inserted.discard(key)  # later events of the batch with this message are repeats

    async def _file_replies(self, db: CoreConnection, sent: list[tuple[Event, _Refs]]) -> None:
        """File each of the bot's own messages in the session of the message it answers."""
        answered = {e.message.in_reply_to for e, _ in sent if e.message and e.message.in_reply_to}
        known: dict[uuid.UUID, uuid.UUID | None] = {
            event_id: session_id
            for event_id in answered
            if (session_id := self.session_of_event.get(event_id)) is not None
        }
        known |= await records.sessions_of_events(db, answered - set(known))
        latest: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID | None] = {}
        for event, ref in sent:
            target = event.message.in_reply_to if event.message else None
            ref.session_id = known.get(target) if target else None
            if ref.session_id is None:  # sent by another service: the channel's open session
                key = (self.bot_ids[event.bot], ref.channel_id)
                if key not in latest:
                    latest[key] = await records.latest_session_in_channel(db, *key)
                ref.session_id = latest[key]

    @staticmethod
    async def _apply_change(db: CoreConnection, event: Event, ref: _Refs) -> None:
        message = event.message
        if message is None:
            return
        if event.type == "message.updated":
            await records.edit_message(
                db, ref.channel_id, message.id, message.text, event.occurred_at
            )
        elif event.type == "message.deleted":
            await records.mark_deleted(db, ref.channel_id, message.id, event.occurred_at)

    def _message_row(self, event: Event, ref: _Refs, direction: str) -> tuple[Any, ...]:
        """A row of `records.MESSAGE_COLUMNS`."""
        message = event.message
        assert message is not None
        at = event.occurred_at
        return (
            new_id(),
            direction,
            message.id,
            ref.channel_id,
            ref.user_id,
            ref.session_id,
            self.bot_ids[event.bot],
            event.id,
            message.text,
            event.thread_id,
            message.reply_to_id,
            _dumped(message.attachments),
            _dumped(message.citations),
            at,  # occurred, created and updated
            at,
            at,
        )

    def _click_row(self, event: Event, ref: _Refs) -> dict[str, Any]:
        assert event.interaction is not None
        return {
            "bot_id": self.bot_ids[event.bot],
            "platform_user_id": ref.user_id,
            "platform_channel_id": ref.channel_id,
            "message_external_id": event.interaction.message_id,
            "interaction_id": event.interaction.id,
            "value": event.interaction.value,
            "event_id": event.id,
        }


def _dumped(models: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json") for m in models] if models else []
