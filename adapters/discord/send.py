"""Actions -> Discord REST calls through discord.py's HTTP client (and so its rate-limit buckets).

`message.send` splits texts over 2000 characters into several messages (the reply reference on
the first, the buttons on the last), and answers an interaction with its follow-up when the
action replies to an interaction event whose ticket is still valid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
from discord.http import HTTPClient, Route
from discord.utils import escape_markdown

from adapters.base import SendResult
from adapters.discord.interactions import Ticket
from adapters.discord.markdown import to_discord
from adapters.discord.tickets import TicketStore
from adapters.split import split_markdown
from adapters.split import split_text as split
from adapters.streams import Shown, StreamBook, result, show
from gateway.errors import PermanentError, TransientError
from gateway.events import Action, Button

Json = dict[str, Any]
MAX_CONTENT = 2000
ROW_SIZE, MAX_ROWS = 5, 5
ALLOWED_MENTIONS: Json = {"parse": ["users"], "replied_user": True}  # never @everyone or roles
EXPIRED_WEBHOOK_CODES = frozenset({10015, 50027})  # unknown webhook, invalid webhook token
_Post = Callable[[Action, Json, Ticket | None, int], Awaitable[Json]]


def split_text(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """Parts of at most `limit` characters, cut at paragraph, line or sentence ends, else at a
    space, else anywhere."""
    return split(text, limit, utf16=False)


def render(action: Action) -> str:
    text = action.text or ""
    return to_discord(text) if action.format == "markdown" else escape_markdown(text)


def message_parts(action: Action) -> list[str]:
    return split_markdown(render(action), MAX_CONTENT)


def components(buttons: list[Button]) -> list[Json]:
    """Buttons as action rows of up to five (Discord allows five rows)."""
    rendered = [_button(button) for button in buttons[: ROW_SIZE * MAX_ROWS]]
    return [
        {"type": 1, "components": rendered[start : start + ROW_SIZE]}
        for start in range(0, len(rendered), ROW_SIZE)
    ]


def _button(button: Button) -> Json:
    if button.url:
        return {"type": 2, "style": 5, "label": button.label, "url": button.url}
    return {"type": 2, "style": 1, "label": button.label, "custom_id": button.id}


def payload(action: Action, part: str, reference: bool, markup: bool) -> Json:
    """One message of an action: the reply reference on the first (outside follow-ups), the
    buttons on the last."""
    body: Json = {"content": part, "allowed_mentions": ALLOWED_MENTIONS}
    if reference and action.reply_to_id:
        body["message_reference"] = {"message_id": action.reply_to_id, "fail_if_not_exists": False}
    if markup and action.buttons:
        body["components"] = components(action.buttons)
    return body


class _Parts:
    """Sends one action's parts: as the interaction's follow-ups while its ticket is valid,
    else to the channel; edits and deletes them in the channel."""

    def __init__(self, http: HTTPClient, ticket: Ticket | None, post: _Post) -> None:
        self.http, self.ticket, self.post = http, ticket, post
        self.sent = 0  # parts sent so far: the next one's index

    async def send_part(
        self, action: Action, part: str, first: bool, markup: bool
    ) -> tuple[str, Json]:
        body = payload(action, part, reference=first and self.ticket is None, markup=markup)
        message = await self.post(action, body, self.ticket, self.sent)
        self.sent += 1
        return str(message["id"]), message

    async def edit_part(self, action: Action, message_id: str, part: str, markup: bool) -> None:
        target = action.model_copy(update={"message_id": message_id})
        body = payload(action, part, reference=False, markup=markup)
        await self.http.request(_message_route("PATCH", target), json=body)

    async def delete_part(self, action: Action, message_id: str) -> None:
        target = action.model_copy(update={"message_id": message_id})
        await self.http.request(_message_route("DELETE", target))


class Sender:
    """Sends one bot's actions. `application_id` is needed for interaction follow-ups."""

    def __init__(self, http: HTTPClient, tickets: TicketStore, application_id: str) -> None:
        self.http = http
        self.tickets = tickets
        self.application_id = application_id
        self.streams: StreamBook[str] = StreamBook()
        self._handlers: dict[str, Callable[[Action], Awaitable[SendResult]]] = {
            "message.send": self._send_message,
            "message.edit": self._edit_message,
            "message.delete": self._delete_message,
            "reaction.add": self._add_reaction,
            "typing": self._typing,
        }

    async def send(self, action: Action) -> SendResult:
        try:
            return await self._handlers[action.type](action)
        except discord.RateLimited as exc:
            raise TransientError(
                "Discord rate limit longer than max_retry_wait", exc.retry_after
            ) from None
        except discord.HTTPException as exc:
            raise classify(exc, action.type) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransientError(f"Discord unreachable: {type(exc).__name__}") from None

    async def _send_message(self, action: Action) -> SendResult:
        """A message (split in several when long), or one snapshot of an answer being written
        (sent once, then edited) or its final text."""
        if not action.text and not action.buttons:
            raise PermanentError("message.send needs a text or buttons")
        ticket = await self.tickets.find(str(action.in_reply_to) if action.in_reply_to else None)
        stream = action.stream
        shown: Shown[str] = self.streams.of(stream.id) if stream else Shown()
        parts = _Parts(self.http, ticket, self._post)
        await show(parts, action, shown, message_parts(action), final=not action.snapshot)
        if action.snapshot:
            return SendResult(message_id=shown.ids[0] if shown.ids else None)
        if stream is not None:
            self.streams.done(stream.id)
        return result(action, shown)

    async def _post(self, action: Action, payload: Json, ticket: Ticket | None, index: int) -> Json:
        if ticket is not None:
            try:
                return await self._follow_up(ticket, payload)
            except discord.HTTPException as exc:
                if exc.code not in EXPIRED_WEBHOOK_CODES:
                    raise
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=_target(action))
        body = {**payload, "nonce": nonce(action, index), "enforce_nonce": True}
        message: Json = await self.http.request(route, json=body)
        return message

    async def _follow_up(self, ticket: Ticket, payload: Json) -> Json:
        route = Route(
            "POST",
            "/webhooks/{webhook_id}/{webhook_token}",
            webhook_id=ticket.application_id,
            webhook_token=ticket.token,
        )
        message: Json = await self.http.request(route, json=payload, params={"wait": "true"})
        return message

    async def _edit_message(self, action: Action) -> SendResult:
        body = payload(action, message_parts(action)[0], reference=False, markup=True)
        message: Json = await self.http.request(_message_route("PATCH", action), json=body)
        return SendResult(message_id=str(message["id"]), text=action.text, raw=message)

    async def _delete_message(self, action: Action) -> SendResult:
        await self.http.request(_message_route("DELETE", action))
        return SendResult(message_id=action.message_id)

    async def _add_reaction(self, action: Action) -> SendResult:
        if not action.emoji:
            raise PermanentError("reaction.add needs an emoji")
        route = _message_route("PUT", action, "/reactions/{emoji}/@me", emoji=action.emoji)
        await self.http.request(route)
        return SendResult(message_id=action.message_id)

    async def _typing(self, action: Action) -> SendResult:
        await self.http.request(
            Route("POST", "/channels/{channel_id}/typing", channel_id=_target(action))
        )
        return SendResult()


def nonce(action: Action, index: int) -> str:
    """The same part of the same action gets the same nonce: with `enforce_nonce`, Discord
    answers a second create (a send retried after a crash) with the message it made first.
    At most 25 characters, from the action id and the part's index."""
    part = f"{action.id}:{index}".encode()
    return hashlib.blake2b(part, digest_size=12).hexdigest()


def _target(action: Action) -> str:
    """Discord threads are channels: a message for a thread goes to the thread's id."""
    return action.thread_id or action.channel_id


def _message_route(method: str, action: Action, suffix: str = "", **params: Any) -> Route:
    """A route under the action's target message (`message_id` is required)."""
    if not action.message_id:
        raise PermanentError(f"{action.type} needs the message_id of its target")
    return Route(
        method,
        "/channels/{channel_id}/messages/{message_id}" + suffix,
        channel_id=_target(action),
        message_id=action.message_id,
        **params,
    )


def classify(exc: discord.HTTPException, what: str) -> PermanentError | TransientError:
    """Server errors and unexplained 429s may pass; every other refusal is permanent."""
    reason = f"Discord refused {what}: {exc.status} code {exc.code} {exc.text}".strip()
    if exc.status >= 500 or exc.status == 429:
        return TransientError(reason)
    return PermanentError(reason)
