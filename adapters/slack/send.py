"""Actions -> Web API calls: `chat.postMessage`, `chat.update`, `chat.delete`, `reactions.add`.

Slack's refusals become PermanentError or TransientError here; about one message a second per
channel is kept by spacing the sends of each channel.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.base import SendResult
from adapters.slack.mrkdwn import escape, to_mrkdwn
from adapters.split import split_markdown
from adapters.streams import Shown, StreamBook, result, show
from gateway.errors import PermanentError, TransientError
from gateway.events import Action, Button

log = logging.getLogger(__name__)
TRANSIENT_ERRORS = frozenset({
    "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
    "team_added_to_org",
})
MAX_TEXT = 39_000  # chat.postMessage truncates text beyond 40,000 characters
MAX_SECTION = 3_000  # a section block's text limit
EMOJI_NAMES = {"👍": "+1", "👎": "-1", "❤️": "heart", "✅": "white_check_mark", "👀": "eyes",
               "🎉": "tada", "😄": "smile", "🙏": "pray", "🔥": "fire", "❌": "x"}


class Pacer:
    """Spaces calls per key by `interval` seconds without holding a lock across the wait."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._next: dict[str, float] = {}

    async def wait(self, key: str) -> None:
        now = self.clock()
        slot = max(now, self._next.get(key, now))
        self._next[key] = slot + self.interval
        if len(self._next) > 10_000:
            self._next = {k: t for k, t in self._next.items() if t > now}
        if slot > now:
            await asyncio.sleep(slot - now)


class Sender:
    def __init__(self, client: AsyncWebClient, pacer: Pacer) -> None:
        self.client = client
        self.pacer = pacer
        self.streams: StreamBook[str] = StreamBook()
        self.native = True  # Slack's streaming methods, until Slack refuses them to this app
        self._native: set[uuid.UUID] = set()  # streams under way through them

    async def send(self, action: Action) -> SendResult:
        if action.type == "message.send":
            return await self.post(action)
        if action.type == "message.edit":
            return await self.edit(action)
        if action.type == "message.delete":
            return await self.delete(action)
        if action.type == "reaction.add":
            return await self.react(action)
        return SendResult()  # `typing`: bots have no typing indicator in the Web API

    async def post(self, action: Action) -> SendResult:
        if not (action.text or "").strip() and not action.buttons:
            raise PermanentError("message.send without text or buttons: Slack refuses it (no_text)")
        if action.stream is not None:
            return await self.stream(action)
        shown: Shown[str] = Shown()
        await show(self, action, shown, _parts(action), final=True)
        return result(action, shown)

    async def stream(self, action: Action) -> SendResult:
        """One snapshot of an answer being written, or its final text: in a thread with
        Slack's streaming methods where the app may use them, else posted once and then
        `chat.update`d."""
        assert action.stream is not None
        shown = self.streams.of(action.stream.id)
        if action.stream.id in self._native or (
            self.native and action.thread_id and action.snapshot and not shown.ids
        ):
            streamed = await self._native_stream(action, shown)
            if streamed is not None:
                return streamed
        await show(self, action, shown, _parts(action), final=not action.snapshot)
        if action.snapshot:
            return SendResult(message_id=shown.ids[0] if shown.ids else None)
        self.streams.done(action.stream.id)
        return result(action, shown)

    async def _native_stream(self, action: Action, shown: Shown[str]) -> SendResult | None:
        """chat.startStream, appendStream with what was added, stopStream with the rest (and
        the buttons); None when Slack refuses this app streaming (then: post and update)."""
        assert action.stream is not None
        text, stream = action.text or "", action.stream.id
        if not shown.ids:
            try:
                async with slack_errors("chat.startStream"):
                    response = await self.client.chat_startStream(
                        channel=action.channel_id, thread_ts=str(action.thread_id),
                        markdown_text=text,
                    )
            except PermanentError as exc:
                log.info("no Slack streaming for this app (%s): posting and updating", exc)
                self.native = False
                return None
            shown.add(str(response["ts"]), text)
            self._native.add(stream)
            return SendResult(message_id=shown.ids[0])
        ts, before = shown.ids[0], shown.parts[0]
        added = text[len(before):] if text.startswith(before) else ""
        if action.snapshot:
            if added:
                async with slack_errors("chat.appendStream"):
                    await self.client.chat_appendStream(
                        channel=action.channel_id, ts=ts, markdown_text=added
                    )
                shown.parts[0] = text
            return SendResult(message_id=ts)
        async with slack_errors("chat.stopStream"):
            await self.client.chat_stopStream(
                channel=action.channel_id, ts=ts, markdown_text=added or None,
                blocks=blocks("", action.buttons),  # the buttons, or None
            )
        if text != before + added:  # the final text is not the stream's continuation
            await self._update(action, ts, _parts(action)[0], action.buttons)
        self._native.discard(stream)
        self.streams.done(stream)
        return SendResult(message_id=ts, text=action.text)

    async def send_part(
        self, action: Action, part: str, first: bool, markup: bool
    ) -> tuple[str, dict[str, Any]]:
        buttons = action.buttons if markup else []
        await self.pacer.wait(action.channel_id)
        async with slack_errors("chat.postMessage"):
            response = await self.client.chat_postMessage(
                channel=action.channel_id, text=part, thread_ts=action.thread_id,
                blocks=blocks(part, buttons), unfurl_links=False,
            )
        raw = _data(response)
        return str(raw["ts"]), raw

    async def edit_part(self, action: Action, message_id: str, part: str, markup: bool) -> None:
        await self._update(action, message_id, part, action.buttons if markup else [])

    async def delete_part(self, action: Action, message_id: str) -> None:
        await self.delete(action.model_copy(update={"message_id": message_id}))

    async def edit(self, action: Action) -> SendResult:
        text = _parts(action)[0]
        response = await self._update(action, _target(action), text, action.buttons)
        return SendResult(message_id=str(response["ts"]), text=action.text, raw=_data(response))

    async def _update(
        self, action: Action, ts: str, text: str, buttons: list[Button]
    ) -> AsyncSlackResponse:
        async with slack_errors("chat.update"):
            return await self.client.chat_update(
                channel=action.channel_id, ts=ts, text=text, blocks=blocks(text, buttons) or [],
            )

    async def delete(self, action: Action) -> SendResult:
        async with slack_errors("chat.delete"):
            response = await self.client.chat_delete(channel=action.channel_id, ts=_target(action))
        return SendResult(message_id=str(response["ts"]), raw=_data(response))

    async def react(self, action: Action) -> SendResult:
        name = emoji_name(action.emoji or "")
        try:
            async with slack_errors("reactions.add"):
                response = await self.client.reactions_add(
                    channel=action.channel_id, timestamp=_target(action), name=name)
        except PermanentError as exc:
            if "already_reacted" not in str(exc):
                raise
            return SendResult(message_id=action.message_id)
        return SendResult(message_id=action.message_id, raw=_data(response))


@asynccontextmanager
async def slack_errors(method: str) -> AsyncIterator[None]:
    """Slack's error answers as PermanentError / TransientError (with Retry-After on 429)."""
    try:
        yield
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if exc.response.status_code == 429:
            retry_after = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after")
            raise TransientError(f"slack {method}: ratelimited", _seconds(retry_after)) from None
        if error in TRANSIENT_ERRORS or exc.response.status_code >= 500:
            raise TransientError(f"slack {method}: {error}") from None
        raise PermanentError(f"slack {method}: {error}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TransientError(f"slack {method} unreachable: {type(exc).__name__}") from None


def render(action: Action) -> str:
    text = action.text or ""
    return to_mrkdwn(text) if action.format == "markdown" else escape(text)


def _parts(action: Action) -> list[str]:
    text = render(action) or " · ".join(b.label for b in action.buttons)
    return split_markdown(text, MAX_TEXT)


def blocks(text: str, buttons: list[Button]) -> list[dict[str, Any]] | None:
    """A section (or several) for the text and an actions block for the buttons."""
    if not buttons:
        return None
    sections: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
        for chunk in split_markdown(text, MAX_SECTION) if chunk
    ]
    return [*sections, {"type": "actions", "block_id": "botgate_buttons",
                        "elements": [_button(b) for b in buttons]}]


def _button(button: Button) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button", "action_id": button.id, "value": button.id,
        "text": {"type": "plain_text", "text": button.label, "emoji": True},
    }
    if button.url:
        element["url"] = button.url
    return element


def emoji_name(emoji: str) -> str:
    """`:thumbsup:` and `thumbsup` as Slack names them; a few common unicode emoji mapped."""
    return EMOJI_NAMES.get(emoji, emoji.strip().strip(":"))


def _target(action: Action) -> str:
    if not action.message_id:
        raise PermanentError(f"{action.type} needs the message_id of its target")
    return action.message_id


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _data(response: AsyncSlackResponse) -> dict[str, Any]:
    return dict(response.data) if isinstance(response.data, dict) else {}
