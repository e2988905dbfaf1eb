"""Dead letters: the keeper records everything `botgate.dead` receives in the database (on
both buses, so the embedded bus keeps them across restarts), and the redriver publishes the
letters a re-drive asked for back to the queue they died in.

A re-drive is asked for in the database (`store.dead_letters.queue`, audited) and carried out
by whichever process claims it: the core role polls every `operations.redrive_interval`, and
a command on a broker bus publishes at once. So `botgate dead redrive` also works with the
in-process bus, where only the serving process can publish.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from gateway import codec
from gateway.bus.base import Bus, Delivery, Message, Subscription
from gateway.bus.topology import (
    DEAD_HEADERS,
    DEAD_QUEUE,
    DEFAULT_EXCHANGE,
    HEADER_ATTEMPTS,
    HEADER_ERROR,
    HEADER_ORIGIN_EXCHANGE,
    HEADER_ORIGIN_QUEUE,
    HEADER_REASON,
    HEADER_REDRIVE,
    dead_queue,
)
from gateway.config import OperationsConfig
from gateway.errors import BotgateError, BusUnavailable
from gateway.events import utcnow
from gateway.loops import StopSignal, stop_between_passes
from store import audit
from store import dead_letters as letters
from store.database import Database
from store.models import DeadLetter

log = logging.getLogger(__name__)
KEEPER_PREFETCH = 50
RETRY_PAUSE = 1.0  # seconds before a letter the database could not take is handed back
STALE_CLAIM = timedelta(minutes=5)  # a claim older than this was abandoned by its process


def arrival(message: Message) -> letters.Arrival:
    """What to store of a message from `botgate.dead`."""
    headers = message.headers
    platform, bot, user_key = _about(message.body)
    return letters.Arrival(
        message_id=message.message_id or "sha256:" + hashlib.sha256(message.body).hexdigest(),
        origin_exchange=headers.get(HEADER_ORIGIN_EXCHANGE, ""),
        origin_queue=headers.get(HEADER_ORIGIN_QUEUE, ""),
        routing_key=message.routing_key,
        reason=headers.get(HEADER_REASON, "no reason given"),
        error=headers.get(HEADER_ERROR),
        attempts=_whole(headers.get(HEADER_ATTEMPTS)),
        headers={k: v for k, v in headers.items() if k not in DEAD_HEADERS},
        content_type=message.content_type,
        body=message.body,
        at=utcnow(),
        platform=platform,
        bot=bot,
        user_key=user_key,
    )


def _about(body: bytes) -> tuple[str | None, str | None, str | None]:
    """Platform, bot and `platform:user id` of an event or action body, when it is one."""
    try:
        data = codec.loads(body)
    except ValueError:
        return None, None, None
    if not isinstance(data, dict):
        return None, None, None
    platform, bot = _text(data.get("platform")), _text(data.get("bot"))
    user = data.get("user")
    user_id = _text(user.get("id")) if isinstance(user, dict) else None
    return platform, bot, f"{platform}:{user_id}" if platform and user_id else None


def _text(value: object) -> str | None:
    return value[:256] if isinstance(value, str) else None


def _whole(value: str | None) -> int:
    try:
        return max(1, int(value or "1"))
    except ValueError:
        return 1


class DeadLetterKeeper:
    """Consumes `botgate.dead` into the `dead_letters` table; acks only once it is stored."""

    def __init__(self, bus: Bus, db: Database) -> None:
        self.bus, self.db = bus, db
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        await self.bus.declare_queue(dead_queue())
        self._subscription = await self.bus.consume(
            DEAD_QUEUE, self.handle, prefetch=KEEPER_PREFETCH
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.cancel()

    async def handle(self, delivery: Delivery) -> None:
        try:
            async with self.db.transaction() as session:
                await letters.keep(session, arrival(delivery.message))
        except Exception as exc:
            self.db.outage.failed(
                log,
                exc,
                "could not store dead letter %s; trying again",
                delivery.message.message_id,
                traceback=True,
            )
            await asyncio.sleep(RETRY_PAUSE)
            await delivery.reject(requeue=True)
            return
        await delivery.ack()


@dataclass(frozen=True)
class Redriven:
    queued: list[str]  # ids queued by this request
    skipped: list[str]  # ids that were not dead (already queued or re-driven)


async def request_redrive(db: Database, ids: list[str] | None, limit: int, actor: str) -> Redriven:
    """Queue a re-drive of `ids` (None: every dead letter), at most `limit`, audited per letter.
    An unknown id refuses the whole request and changes nothing."""
    parsed = None if ids is None else [parse_letter_id(value) for value in ids]
    async with db.transaction() as session:
        if parsed is not None and (unknown := await letters.missing(session, parsed)):
            raise UnknownDeadLetter(f"no dead letter {unknown[0]}; see `botgate dead list`")
        queued = [str(i) for i in await letters.queue(session, parsed, limit, actor, utcnow())]
        skipped = [str(i) for i in parsed or [] if str(i) not in queued]
        for letter_id in queued:
            audit.record(session, actor, "dead.redrive", ("dead_letter", letter_id))
        for letter_id in skipped:
            target = ("dead_letter", letter_id)
            audit.record(session, actor, "dead.redrive", target, outcome="skipped")
    return Redriven(queued, skipped)


class UnknownDeadLetter(BotgateError):
    http_status = 404


class BadId(BotgateError):
    http_status = 400


def parse_letter_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadId(f"{value[:80]!r} is not a dead-letter id (a UUID)") from None


async def drain(bus: Bus, db: Database, limit: int) -> int:
    """Publish the queued letters this process can claim; returns how many went out."""
    async with db.transaction() as session:
        claimed = await letters.claim(session, limit, utcnow(), STALE_CLAIM)
    sent = 0
    for letter in claimed:
        published = await _publish(bus, letter)
        async with db.transaction() as session:
            await letters.settle(session, letter.id, published, utcnow())
        sent += published
    return sent


async def _publish(bus: Bus, letter: DeadLetter) -> bool:
    headers = {**letter.headers, HEADER_REDRIVE: str(letter.id)}
    if letter.origin_queue and await bus.has_queue(letter.origin_queue):
        exchange, routing_key = DEFAULT_EXCHANGE, letter.origin_queue  # only where it died
    else:
        exchange, routing_key = letter.origin_exchange, letter.routing_key
    message = Message(
        exchange, routing_key, letter.body, letter.message_id, headers,
        content_type=letter.content_type,
    )  # fmt: skip
    try:
        await bus.publish(message)
    except BusUnavailable as exc:
        log.warning("re-drive of %s waits for the bus: %s", letter.id, exc)
        return False
    log.info("re-drove dead letter %s to %s %r", letter.id, exchange or "queue", routing_key)
    return True


class Redriver:
    """Publishes re-drives asked for by commands and the admin API, every `redrive_interval`."""

    def __init__(self, bus: Bus, db: Database, config: OperationsConfig) -> None:
        self.bus, self.db, self.config = bus, db, config
        self._task: asyncio.Task[None] | None = None
        self._stop = StopSignal()
        self._wake = self._stop.wakes(asyncio.Event())

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="redriver")

    async def stop(self) -> None:
        await stop_between_passes(self._stop, [self._task])

    def wake(self) -> None:
        """Look now rather than at the next interval (a re-drive was just asked for)."""
        self._wake.set()

    async def _run(self) -> None:
        interval = self.config.redrive_interval.total_seconds()
        while not self._stop.is_set:
            try:
                await drain(self.bus, self.db, self.config.redrive_limit)
            except Exception as exc:  # an outage now is retried next round; never kill the loop
                self.db.outage.failed(log, exc, "re-driving dead letters failed", traceback=True)
            self._wake.clear()
            await self._stop.pause(interval, self._wake)
