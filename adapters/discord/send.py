"""Actions -> Discord REST calls through discord.py's HTTP client (and so its rate-limit buckets).

`message.send` splits texts over 2000 characters into several messages (the reply reference on
the first, the buttons on the last), and answers an interaction with its follow-up when the
action replies to an interaction event whose ticket is still valid.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
from discord.http import HTTPClient, Route
from discord.utils import escape_markdown

from adapters.base import SendResult
from adapters.discord.interactions import Ticket
from adapters.discord.tickets import TicketStore
from gateway.errors import PermanentError, TransientError
from gateway.events import Action, Button

Json = dict[str, Any]
MAX_CONTENT = 2000
ROW_SIZE, MAX_ROWS = 5, 5
ALLOWED_MENTIONS: Json = {"parse": ["users"], "replied_user": True}  # never @everyone or roles
EXPIRED_WEBHOOK_CODES = frozenset({10015, 50027})  # unknown webhook, invalid webhook token


def split_text(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """Parts of at most `limit` characters, cut at a line break, else a space, else anywhere."""
    parts: list[str] = []
    while len(text) > limit:
        end, start = _cut(text, limit)
        parts.append(text[:end])
        text = text[start:]
    return [*parts, text]


def _cut(text: str, limit: int) -> tuple[int, int]:
    """Where the first part ends and the next begins (a separator at the cut is dropped)."""
    for separator in ("\n", " "):
        at = text.rfind(separator, limit // 2, limit)
        if at > 0:
            return at, at + 1
    return limit, limit


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


def message_payloads(action: Action, via_follow_up: bool) -> list[Json]:
    text = action.text or ""
    if action.format == "plain":
        text = escape_markdown(text)
    payloads: list[Json] = [
        {"content": part, "allowed_mentions": ALLOWED_MENTIONS} for part in split_text(text)
    ]
    if action.reply_to_id and not via_follow_up:
        payloads[0]["message_reference"] = {
            "message_id": action.reply_to_id,
            "fail_if_not_exists": False,
        }
    if action.buttons:
        payloads[-1]["components"] = components(action.buttons)
    return payloads


class Sender:
    """Sends one bot's actions. `application_id` is needed for interaction follow-ups."""

    def __init__(self, http: HTTPClient, tickets: TicketStore, application_id: str) -> None:
        self.http = http
        self.tickets = tickets
        self.application_id = application_id
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
        if not action.text and not action.buttons:
            raise PermanentError("message.send needs a text or buttons")
        ticket = await self.tickets.find(str(action.in_reply_to) if action.in_reply_to else None)
        sent = [
            await self._post(action, payload, ticket)
            for payload in message_payloads(action, ticket is not None)
        ]
        return SendResult(
            message_id=str(sent[0]["id"]),
            text=action.text,
            raw=sent[0],
            extra_message_ids=tuple(str(message["id"]) for message in sent[1:]),
        )

    async def _post(self, action: Action, payload: Json, ticket: Ticket | None) -> Json:
        if ticket is not None:
            try:
                return await self._follow_up(ticket, payload)
            except discord.HTTPException as exc:
                if exc.code not in EXPIRED_WEBHOOK_CODES:
                    raise
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=_target(action))
        message: Json = await self.http.request(route, json=payload)
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
        payload: Json = {
            "content": split_text(action.text or "")[0],
            "allowed_mentions": ALLOWED_MENTIONS,
        }
        if action.buttons:
            payload["components"] = components(action.buttons)
        message: Json = await self.http.request(_message_route("PATCH", action), json=payload)
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
