"""Actions -> Bot API calls through python-telegram-bot, within Telegram's rate limits.

A 429 is waited out here (`retry_after`, up to `max_retry_wait`) so that the parts of a long
message are not sent twice; a longer wait goes back to the action runner as TransientError.
Refusals retrying cannot fix (blocked by the user, chat not found) are PermanentError.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from adapters.base import SendResult
from adapters.streams import Shown, StreamBook, result, show
from adapters.telegram.format import Formatted, parts
from adapters.telegram.ratelimit import RateLimiter
from gateway.errors import PermanentError, TransientError
from gateway.events import Action, Button

log = logging.getLogger(__name__)
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
MAX_CALLBACK_DATA = 64  # bytes
_RETRIES_ON_429 = 3
# Set while a snapshot of a streamed answer is shown: a 429 goes straight back to the action
# runner, which shows that stream half as often, instead of being waited out here.
_SNAPSHOT: contextvars.ContextVar[bool] = contextvars.ContextVar("snapshot", default=False)


def retry_seconds(error: RetryAfter) -> float:
    """`retry_after` in seconds, whichever type this python-telegram-bot version returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def chat_id_of(value: str) -> int | str:
    """Telegram chat ids are integers; '@channelname' stays text."""
    try:
        return int(value)
    except ValueError:
        return value


def keyboard(buttons: list[Button]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([[_button(button)] for button in buttons])


def _button(button: Button) -> InlineKeyboardButton:
    if button.url:
        return InlineKeyboardButton(button.label, url=button.url)
    if len(button.id.encode()) > MAX_CALLBACK_DATA:
        raise PermanentError(f"button id {button.id[:20]!r}... is over Telegram's 64-byte limit")
    return InlineKeyboardButton(button.label, callback_data=button.id)


def _message_id(action: Action) -> int:
    return _number(action.message_id, f"{action.type} needs a Telegram message id")


def _number(value: str | None, what: str) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise PermanentError(f"{what}, got {value!r}") from None


def _thread(action: Action) -> int | None:
    return (
        _number(action.thread_id, "thread_id is a Telegram topic id") if action.thread_id else None
    )


def _as_dict(message: Message) -> dict[str, Any]:
    return dict(json.loads(message.to_json()))


def _parts(action: Action) -> list[Formatted]:
    return parts(action.text or "", markdown=action.format == "markdown")


def _private(action: Action) -> bool:
    """Drafts are for private chats: a user's chat id is positive, a group's negative."""
    return action.channel_id.isdigit()



class Sender:
    """Sends one bot's actions; one instance per adapter."""

    def __init__(
        self,
        bot: Bot,
        limiter: RateLimiter,
        max_retry_wait: float,
        sleep: Sleep = asyncio.sleep,
        drafts: bool = True,
    ) -> None:
        self.bot = bot
        self.limiter = limiter
        self.max_retry_wait = max_retry_wait
        self.sleep = sleep
        self.drafts = drafts  # show answers being written as drafts in private chats
        self.streams: StreamBook[Formatted] = StreamBook()

    async def send(self, action: Action) -> SendResult:
        handlers = {
            "message.send": self.send_message,
            "message.edit": self.edit_message,
            "message.delete": self.delete_message,
            "reaction.add": self.add_reaction,
            "typing": self.typing,
        }
        return await handlers[action.type](action)

    async def send_message(self, action: Action) -> SendResult:
        if action.stream is not None:
            return await self.stream(action)
        shown: Shown[Formatted] = Shown()
        await show(self, action, shown, _parts(action), final=True)
        return result(action, shown)

    async def stream(self, action: Action) -> SendResult:
        """One snapshot of an answer being written, or its final text: drafts in a private
        chat while it is written, else the message(s) sent once and edited."""
        assert action.stream is not None
        _SNAPSHOT.set(action.snapshot)
        shown = self.streams.of(action.stream.id)
        parts = _parts(action)
        if action.snapshot and self.drafts and _private(action):
            await show(self, action, shown, parts[:-1], final=False)  # complete parts stay
            if await self._draft(action, parts[-1]):
                return SendResult()
        await show(self, action, shown, parts, final=not action.snapshot)
        if action.snapshot:
            return SendResult(message_id=shown.ids[0] if shown.ids else None)
        self.streams.done(action.stream.id)
        return result(action, shown)

    async def _draft(self, action: Action, part: Formatted) -> bool:
        """Show `part` as the chat's draft; False when Telegram refuses this bot drafts."""
        assert action.stream is not None
        draft_id = action.stream.id.int % 2**31 or 1
        try:
            await self.call(
                lambda: self.bot.send_message_draft(
                    chat_id=int(action.channel_id),
                    draft_id=draft_id,
                    text=part.text,
                    entities=part.message_entities(),
                    message_thread_id=_thread(action),
                )
            )
        except PermanentError as exc:
            log.info("no drafts for this bot (%s): answers are sent, then edited", exc)
            self.drafts = False
            return False
        return True

    async def send_part(
        self, action: Action, part: Formatted, first: bool, markup: bool
    ) -> tuple[str, dict[str, Any]]:
        if not part.text.strip():
            raise PermanentError("message.send needs a non-empty text")
        reply = None
        if first and action.reply_to_id:
            target = _number(action.reply_to_id, "reply_to_id is a Telegram message id")
            reply = ReplyParameters(target, allow_sending_without_reply=True)
        await self.limiter.acquire(action.channel_id)
        sent = await self.call(
            lambda: self.bot.send_message(
                chat_id=chat_id_of(action.channel_id),
                text=part.text,
                entities=part.message_entities(),
                message_thread_id=_thread(action),
                reply_parameters=reply,
                reply_markup=keyboard(action.buttons) if markup else None,
            )
        )
        return str(sent.message_id), _as_dict(sent)

    async def edit_part(
        self, action: Action, message_id: str, part: Formatted, markup: bool
    ) -> None:
        await self._edited(action, message_id, part, markup)

    async def delete_part(self, action: Action, message_id: str) -> None:
        await self.delete_message(action.model_copy(update={"message_id": message_id}))

    async def _edited(
        self, action: Action, message_id: str, part: Formatted, markup: bool
    ) -> Message | None:
        await self.limiter.acquire(action.channel_id)
        try:
            edited = await self.call(
                lambda: self.bot.edit_message_text(
                    chat_id=chat_id_of(action.channel_id),
                    message_id=_number(message_id, "message_id is a Telegram message id"),
                    text=part.text,
                    entities=part.message_entities(),
                    reply_markup=keyboard(action.buttons) if markup else None,
                )
            )
        except PermanentError as exc:
            if "message is not modified" not in str(exc).lower():
                raise
            return None
        return edited if isinstance(edited, Message) else None

    async def edit_message(self, action: Action) -> SendResult:
        part = _parts(action)[0]
        edited = await self._edited(action, str(_message_id(action)), part, markup=True)
        raw = _as_dict(edited) if edited is not None else {}
        return SendResult(message_id=action.message_id, text=action.text, raw=raw)

    async def delete_message(self, action: Action) -> SendResult:
        chat_id, message_id = chat_id_of(action.channel_id), _message_id(action)
        try:
            await self.call(lambda: self.bot.delete_message(chat_id, message_id))
        except PermanentError as exc:
            if "message to delete not found" not in str(exc).lower():
                raise
            # Already gone: deleting is idempotent, a retried delete is not a failure.
        return SendResult(message_id=action.message_id)

    async def add_reaction(self, action: Action) -> SendResult:
        if not action.emoji:
            raise PermanentError("reaction.add needs an emoji")
        chat_id, message_id, emoji = (
            chat_id_of(action.channel_id),
            _message_id(action),
            action.emoji,
        )
        await self.call(lambda: self.bot.set_message_reaction(chat_id, message_id, emoji))
        return SendResult(message_id=action.message_id)

    async def typing(self, action: Action) -> SendResult:
        chat_id = chat_id_of(action.channel_id)
        thread = _thread(action)
        await self.call(
            lambda: self.bot.send_chat_action(chat_id, ChatAction.TYPING, message_thread_id=thread)
        )
        return SendResult()

    async def call(self, request: Callable[[], Awaitable[T]]) -> T:
        """One Bot API call: 429 waited out and retried, errors mapped to the runner's kinds."""
        for attempt in range(_RETRIES_ON_429 + 1):
            try:
                return await request()
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                if wait > self.max_retry_wait or attempt == _RETRIES_ON_429 or _SNAPSHOT.get():
                    raise TransientError("Telegram flood control", retry_after=wait) from None
                log.info("Telegram asked to wait %.1f s (429); waiting", wait)
                await self.sleep(wait)
            except TelegramError as exc:
                raise _mapped(exc) from None
        raise AssertionError("unreachable")


def _mapped(error: TelegramError) -> PermanentError | TransientError:
    if isinstance(error, ChatMigrated):
        return PermanentError(f"the group is now the supergroup {error.new_chat_id}; send there")
    if isinstance(error, Forbidden | BadRequest | InvalidToken):
        return PermanentError(f"Telegram refused: {error.message}")
    return TransientError(f"Telegram unreachable or failing: {error.message}")
