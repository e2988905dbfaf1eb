"""A local Telegram Bot API for offline tests: python-telegram-bot, aiogram or any HTTP client
works against it through `api_base_url` (and `file_base_url` for downloads).

It serves `/bot<token>/<method>` taking query strings, form, multipart (file uploads) and JSON
bodies like the real API, and answers in Telegram's shapes: `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}`, 429 with
`parameters.retry_after`. Methods served: getMe, setWebhook, deleteWebhook, getWebhookInfo,
getUpdates (long polling with offsets), sendMessage, sendPhoto, sendDocument, sendVideo,
sendAudio, sendVoice, sendAnimation, sendSticker, sendMediaGroup, sendMessageDraft (kept in
`drafts`, not messages), editMessageText,
editMessageCaption, editMessageReplyMarkup, deleteMessage, sendChatAction,
answerCallbackQuery, setMessageReaction, getFile (and downloads), setMyCommands,
getMyCommands, deleteMyCommands. Any other method answers 400 `Bad Request: not emulated:
<method>` (never 404, which SDKs read as a bad token) and is recorded; a wrong token answers
401 `Unauthorized`. MarkdownV2 is parsed as Telegram parses it.

What users do is delivered as Telegram delivers it: to the webhook set with `setWebhook`
(with the `X-Telegram-Bot-Api-Secret-Token` header; a method in the webhook's answer is run
as Telegram runs it), or else queued for `getUpdates`::

    async with TelegramEmulator() as telegram:        # or the `telegram_emulator` fixture
        # ... start your bot with base_url=telegram.api_base_url, token=telegram.token
        await telegram.inject_command(42, "start")     # /start from user 42 in a private chat
        reply = await telegram.wait_for(42, "Welcome")
        await telegram.inject_button(reply, "Yes")     # a press on the inline button "Yes"
        telegram.rate_limit("sendMessage", retry_after=3, times=2)
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import web

from botgate.testing.base import ApiCall, Delivery, EmulatorServer, Malformed, post
from botgate.testing.base import DeliveryResult as DeliveryResult
from botgate.testing.faults import Clock, Fault
from botgate.testing.sent import Sent
from botgate.testing.telegram_media import FileStore, Upload
from botgate.testing.telegram_methods import BotApiMethods, guess_chat
from botgate.testing.telegram_text import ApiError, bad, message_entities
from botgate.testing.telegram_text import utf16_len as utf16_len

Json = dict[str, Any]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
# Parameters that form and multipart requests carry as JSON text.
_JSON_PARAMS = {
    "reply_markup", "reply_parameters", "reaction", "allowed_updates", "entities",
    "link_preview_options", "caption_entities", "media", "commands", "scope",
}
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}


@dataclass(kw_only=True)
class RecordedCall(ApiCall):
    """One Bot API request as the emulator received it. `via` is "http", or "webhook" for a
    method given in a webhook answer."""

    via: str = "http"


@dataclass
class Webhook:
    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] | None = None


@dataclass
class _Poll:
    pending: deque[Json] = field(default_factory=deque)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    generation: int = 0  # getUpdates calls so far; a newer one ends the one waiting
    conflicts: int = 0  # getUpdates calls ended by another one (409 Conflict)


class TelegramEmulator(BotApiMethods, EmulatorServer[RecordedCall]):
    """An async context manager serving a fake Bot API on an ephemeral 127.0.0.1 port."""

    platform: ClassVar[str] = "telegram"
    shutdown_timeout: ClassVar[float] = 1.0

    def __init__(
        self,
        token: str = "123456789:AAEmulatorTokenForOfflineTests_0000",  # noqa: S107 (a fake)
        *,
        username: str = "botgate_test_bot",
        first_name: str = "Botgate",
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(clock=clock)
        self.token = token
        self.bot_user: Json = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.webhook = Webhook()
        self.chats: dict[int, Json] = {}
        self.messages: dict[tuple[int, int], Json] = {}
        self.deleted: set[tuple[int, int]] = set()
        self.reactions: dict[tuple[int, int], list[Json]] = {}
        self.store = FileStore()
        self.answered: dict[str, Json] = {}
        self.commands: dict[str, list[Json]] = {}
        self.drafts: dict[int, list[Json]] = {}  # sendMessageDraft by chat: draft_id, text
        self._queries: set[str] = set()
        self._blocked: set[int] = set()
        self._missing: set[int] = set()
        self._poll = _Poll()
        self._closing = False
        self._update_ids = itertools.count(100_000_001)
        self._message_ids: defaultdict[int, int] = defaultdict(lambda: 1000)
        self._media_groups = 0

    # lifecycle

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_route("*", "/bot{token}/{method}", self._api)
        router.add_get("/file/bot{token}/{path:.+}", self._download)

    async def _stopping(self) -> None:
        self._closing = True
        async with self._poll.arrived:
            self._poll.arrived.notify_all()  # long polls answer now instead of at their timeout

    @property
    def api_base_url(self) -> str:
        """What `Bot(base_url=...)` and `[bots.telegram] api_base_url` take (the token follows)."""
        return f"{self.base_url}/bot"

    @property
    def file_base_url(self) -> str:
        """What `Bot(base_file_url=...)` takes."""
        return f"{self.base_url}/file/bot"

    @property
    def files(self) -> dict[str, tuple[Json, bytes]]:
        """Files by file_id: the File object and the content (uploads keep their bytes)."""
        return self.store.files

    # read back

    def _name_matches(self, pattern: str, name: str) -> bool:
        return pattern == "*" or pattern.lower() == name.lower()

    def sent(self, chat: int | str) -> list[Sent]:
        chat_id = int(chat)
        return [
            self._as_sent(message)
            for (at, message_id), message in sorted(self.messages.items())
            if at == chat_id and self._by_bot(message) and (at, message_id) not in self.deleted
        ]

    def _all_sent(self) -> Iterable[Sent]:
        for key, message in sorted(self.messages.items()):
            if self._by_bot(message) and key not in self.deleted:
                yield self._as_sent(message)

    def _by_bot(self, message: Json) -> bool:
        return bool(message.get("from", {}).get("id") == self.bot_user["id"])

    def _as_sent(self, message: Json) -> Sent:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        return Sent(
            chat=str(message["chat"]["id"]),
            id=str(message["message_id"]),
            text=message.get("text") or message.get("caption") or "",
            buttons=tuple(str(button["text"]) for row in rows for button in row),
            files=tuple(self.store.names.get(m["file_id"], "file") for m in _files_of(message)),
            edited="edit_date" in message,
            raw=message,
        )

    @property
    def poll_conflicts(self) -> int:
        """getUpdates calls ended with 409 Conflict by another poller of the bot: two
        processes polling one bot at once."""
        return self._poll.conflicts

    @property
    def pending_updates(self) -> list[Json]:
        """Updates queued for getUpdates and not yet confirmed by an offset."""
        return list(self._poll.pending)

    # faults and refusals

    def fail(
        self,
        api_method: str,
        error_code: int,
        description: str,
        *,
        times: int | None = None,
        seconds: float | None = None,
        until_cleared: bool = False,
        chat_id: int | str | None = None,
    ) -> Fault:
        """Calls of `api_method` (to `chat_id`, when given) answer `error_code` with Telegram's
        `description`: the next one, the next `times`, for `seconds` or `until_cleared`."""
        fault = Fault("error", api_method, status=error_code, body=description)
        fault.chat = None if chat_id is None else str(chat_id)
        return self.faults.add(fault, times=times, seconds=seconds, until_cleared=until_cleared)

    def rate_limit(
        self,
        name: str,
        *,
        retry_after: float = 1,
        times: int | None = None,
        seconds: float | None = None,
        until_cleared: bool = False,
        chat_id: int | str | None = None,
    ) -> Fault:
        """429 `Too Many Requests: retry after N` (to `chat_id` only, when given)."""
        fault = super().rate_limit(
            name, retry_after=retry_after, times=times, seconds=seconds,
            until_cleared=until_cleared,
        )
        fault.chat = None if chat_id is None else str(chat_id)
        return fault

    def block(self, chat_id: int | str) -> None:
        """The user blocked the bot: sends to this chat answer 403."""
        self._blocked.add(int(chat_id))

    def remove_chat(self, chat_id: int | str) -> None:
        """The bot has no access to this chat any more: 400 chat not found."""
        self._missing.add(int(chat_id))

    def add_file(self, file_id: str, content: bytes, file_path: str | None = None) -> Json:
        """A file `getFile` knows and `/file/bot<token>/<file_path>` serves."""
        return self.store.add(file_id, content, file_path or f"documents/{file_id}")

    def _error(self, status: int, text: str) -> web.StreamResponse:
        prefix = "Bad Request: " if status == 400 else ""
        return _answer(ApiError(status, prefix + text).body(), status)

    def _fault_answer(self, fault: Fault) -> web.StreamResponse:
        if fault.kind == "rate_limit":
            retry = max(1, round(fault.retry_after))
            error = ApiError(429, f"Too Many Requests: retry after {retry}", retry)
        elif fault.kind == "error":
            error = ApiError(fault.status, str(fault.body))
        else:
            error = ApiError(fault.status, _REASONS.get(fault.status, "Internal Server Error"))
        return _answer(error.body(), error.error_code)

    # the Bot API over HTTP

    async def _api(self, request: web.Request) -> web.StreamResponse:
        api_method = request.match_info["method"]
        call = self._record(RecordedCall(
            name=api_method, http_method=request.method, params={},
            headers=dict(request.headers),
        ))
        call.params = params = await _request_params(request)
        if not _same_token(request.match_info["token"], self.token):
            call.outcome(401, "Unauthorized")
            return _answer(ApiError(401, "Unauthorized").body(), 401)
        faulted = await self._faulted(request, call, chat=params.get("chat_id"))
        if faulted is not None:
            return faulted
        try:
            result = await self._run(api_method, params)
        except ApiError as exc:
            call.outcome(exc.error_code, exc.description)
            return _answer(exc.body(), exc.error_code)
        call.outcome(200)
        return _answer({"ok": True, "result": result})

    async def _run(self, api_method: str, params: Json) -> Any:
        name = api_method.lower()
        if name == "getupdates":
            return await self._get_updates(params)
        handler = {**self._methods(), **self._webhook_methods()}.get(name)
        if handler is None:
            raise bad(f"not emulated: {api_method}")
        try:
            return handler(params)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise bad(f"invalid parameters: {exc}") from None

    async def _download(self, request: web.Request) -> web.Response:
        if not _same_token(request.match_info["token"], self.token):
            return _answer(ApiError(401, "Unauthorized").body(), 401)
        for info, content in self.store.files.values():
            if info["file_path"] == request.match_info["path"]:
                return web.Response(body=content, content_type="application/octet-stream")
        return _answer(ApiError(404, "Not Found").body(), 404)

    # webhook and long polling

    def _webhook_methods(self) -> dict[str, Any]:
        return {
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._webhook_info,
        }

    def _set_webhook(self, params: Json) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad("secret token contains unallowed characters")
        if url and not url.startswith(("http://", "https://")):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = Webhook(url, secret, params.get("allowed_updates")) if url else Webhook()
        return True

    def _delete_webhook(self, params: Json) -> bool:
        self.webhook = Webhook()
        if _truthy(params.get("drop_pending_updates")):
            self._poll.pending.clear()
        return True

    def _webhook_info(self, params: Json) -> Json:
        info: Json = {
            "url": self.webhook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._poll.pending),
        }
        if self.webhook.allowed_updates is not None:
            info["allowed_updates"] = self.webhook.allowed_updates
        return info

    async def _get_updates(self, params: Json) -> list[Json]:
        if self.webhook.url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        try:
            offset = int(params.get("offset") or 0)
            limit = min(int(params.get("limit") or 100), 100)
            timeout = float(params.get("timeout") or 0)
        except ValueError as exc:
            raise bad(f"invalid parameters: {exc}") from None
        allowed = params.get("allowed_updates")
        self._confirm(offset)
        self._poll.generation += 1
        mine = self._poll.generation
        async with self._poll.arrived:
            self._poll.arrived.notify_all()  # a poll still waiting is ended by this one
            await self._wait_for_updates(timeout, mine)
        if self._poll.generation != mine:
            self._poll.conflicts += 1
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one "
                "bot instance is running",
            )
        # Telegram does not keep updates of kinds the poller did not ask for.
        kept = [u for u in self._poll.pending if _allowed(u, allowed)]
        self._poll.pending = deque(kept)
        for update in kept[:limit]:
            self._delivered(Delivery("getUpdates", update))
        return kept[:limit]

    async def _wait_for_updates(self, seconds: float, mine: int) -> None:
        if self._poll.pending or seconds <= 0 or self._closing:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self._poll.arrived.wait_for(
                    lambda: bool(self._poll.pending) or self._poll.generation != mine
                    or self._closing
                ),
                seconds,
            )

    def _confirm(self, offset: int) -> None:
        """An offset confirms every update with a smaller id (Telegram forgets them)."""
        while offset and self._poll.pending and self._poll.pending[0]["update_id"] < offset:
            self._poll.pending.popleft()

    # what users do, delivered as Telegram delivers it

    async def inject_message(
        self, chat: int | str, text: str, *, user: Json | None = None, **fields: Any
    ) -> Delivery:
        """`user` (default: the user `chat` is a private chat with, else user 1001) writes
        `text` in `chat`; delivered as a `message` update."""
        sender = user or self._default_user(int(chat))
        update = self.message_update(self._chat_of(int(chat), sender), sender, text, **fields)
        return await self._inject(update)

    async def inject_command(
        self, chat: int | str, command: str, args: str = "", *, user: Json | None = None
    ) -> Delivery:
        """`/command args` written in `chat`, with the `bot_command` entity Telegram marks."""
        text = "/" + command.removeprefix("/") + (f" {args}" if args else "")
        return await self.inject_message(chat, text, user=user)

    async def inject_button(
        self, message: Sent | Json, button: str, *, user: Json | None = None
    ) -> Delivery:
        """A press on the inline button labelled `button` (or with that callback_data) of a
        message the bot sent; delivered as a `callback_query` update."""
        __tracebackhide__ = True
        raw = message.raw if isinstance(message, Sent) else message
        data = _callback_data(raw, button)
        sender = user or self._default_user(int(raw["chat"]["id"]))
        return await self._inject(self.callback_update(raw, sender, data))

    async def inject_edit(self, message: Delivery | Json, text: str) -> Delivery:
        """The user edits a message they wrote (a `Delivery` of `inject_message`, or the
        message object); delivered as an `edited_message` update."""
        original = _user_message(message)
        edited = {**original, "text": text, "edit_date": int(time.time())}
        edited.pop("entities", None)
        if entities := message_entities(text):
            edited["entities"] = entities
        self.messages[(edited["chat"]["id"], edited["message_id"])] = edited
        return await self._inject(self.update("edited_message", edited))

    async def _inject(self, update: Json) -> Delivery:
        result = await self.deliver(update)
        if result is None:
            return Delivery("getUpdates", update)
        return Delivery("webhook", update, result)

    def _default_user(self, chat_id: int) -> Json:
        if chat_id > 0:
            known = self.chats.get(chat_id, {})
            return self.user(chat_id, str(known.get("first_name", f"User{chat_id}")))
        return self.user(1001, "Alice", username="alice")

    def _chat_of(self, chat_id: int, sender: Json) -> Json:
        if chat_id in self.chats:
            return self.chats[chat_id]
        if chat_id == sender["id"]:
            return self.private_chat(sender)
        return guess_chat(chat_id)

    # updates, built as Telegram builds them

    def user(
        self,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "en",
        is_bot: bool = False,
    ) -> Json:
        user: Json = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        optional = {"last_name": last_name, "username": username, "language_code": language_code}
        user.update({k: v for k, v in optional.items() if v is not None})
        return user

    def private_chat(self, user: Json) -> Json:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        return chat

    def group(
        self, chat_id: int, title: str, *, kind: str = "supergroup", is_forum: bool = False
    ) -> Json:
        chat: Json = {"id": chat_id, "title": title, "type": kind}
        if is_forum:
            chat["is_forum"] = True
        return chat

    def message(self, chat: Json, sender: Json | None, text: str, **fields: Any) -> Json:
        """A message as Telegram sends it, with the command / mention entities it would mark."""
        self._message_ids[chat["id"]] += 1
        message: Json = {
            "message_id": self._message_ids[chat["id"]],
            "date": int(time.time()),
            "chat": chat,
        }
        if sender is not None:
            message["from"] = sender
        if text:
            message["text"] = text
            if entities := message_entities(text):
                message["entities"] = entities
        message.update(fields)
        return message

    def message_update(self, chat: Json, sender: Json | None, text: str, **fields: Any) -> Json:
        kind = "channel_post" if chat["type"] == "channel" else "message"
        return self.update(kind, self.message(chat, sender, text, **fields))

    def callback_update(self, message: Json, sender: Json, data: str) -> Json:
        query = {
            "id": str(next(self._update_ids) * 7),
            "from": sender,
            "message": message,
            "chat_instance": str(abs(message["chat"]["id"]) * 31),
            "data": data,
        }
        return self.update("callback_query", query)

    def update(self, kind: str, payload: Json) -> Json:
        """An update of `kind` ("message", "callback_query", ...) with a fresh update_id."""
        return {"update_id": next(self._update_ids), kind: payload}

    async def deliver(self, update: Json) -> DeliveryResult | None:
        """Deliver like Telegram: POST to the webhook when one is set (its answer returned),
        else queue for getUpdates (None returned)."""
        self.learn(update)
        if self.webhook.url:
            return await self.post_webhook(update)
        async with self._poll.arrived:
            self._poll.pending.append(update)
            self._poll.arrived.notify_all()
        await self._touch()
        return None

    async def post_webhook(
        self,
        update: Json,
        *,
        url: str | None = None,
        secret: str | None = None,
        with_secret: bool = True,
    ) -> DeliveryResult:
        """POST one update to `url` (default: the webhook set) with the secret header (default:
        the registered one; `with_secret=False` sends none), running a method in the answer."""
        target = url or self.webhook.url
        token = secret if secret is not None else self.webhook.secret_token
        headers = {"Content-Type": "application/json"}
        if with_secret and token:
            headers[SECRET_HEADER] = token
        self.learn(update)
        result = await post(self._session(), target, json.dumps(update).encode(), headers)
        self._delivered(Delivery("webhook", update, result))
        if 200 <= result.status < 300:
            await self._webhook_answer(result.body)
        await self._touch()
        return result

    async def _webhook_answer(self, body: str) -> None:
        try:
            answer = json.loads(body)
        except ValueError:
            return
        if not isinstance(answer, dict) or not isinstance(answer.get("method"), str):
            return
        params = {k: _decode(k, v) for k, v in answer.items() if k != "method"}
        call = RecordedCall(
            name=answer["method"], http_method="POST", params=params, headers={}, via="webhook"
        )
        self.requests.append(call)
        try:  # Telegram drops a failing answer method silently
            await self._run(answer["method"], params)
            call.outcome(200)
        except ApiError as exc:
            call.outcome(exc.error_code, exc.description)

    def learn(self, update: Json) -> None:
        """Remember the chats, messages, callback queries and files an update shows."""
        for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
            if kind in update:
                self._learn_message(update[kind])
        query = update.get("callback_query")
        if query:
            self._queries.add(str(query["id"]))
            if query.get("message"):
                self._learn_message(query["message"])
        for kind in ("my_chat_member", "chat_member", "message_reaction"):
            if kind in update:
                self._learn_chat(update[kind]["chat"])

    def _learn_message(self, message: Json) -> None:
        chat = message["chat"]
        self._learn_chat(chat)
        self.messages.setdefault((chat["id"], message["message_id"]), message)
        self._message_ids[chat["id"]] = max(self._message_ids[chat["id"]], message["message_id"])
        for media in _files_of(message):
            if media["file_id"] not in self.store.files:
                self.store.add(media["file_id"], b"", f"files/{media['file_id']}")

    def _learn_chat(self, chat: Json) -> None:
        self.chats[chat["id"]] = {**self.chats.get(chat["id"], {}), **chat}


# request parsing and answers


async def _request_params(request: web.Request) -> Json:
    params: Json = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            raise Malformed("can't parse JSON encoded request") from None
        if not isinstance(body, dict):
            raise Malformed("can't parse JSON encoded request: an object is expected")
        params.update(body)
    elif request.can_read_body:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = value
            elif isinstance(value, web.FileField):
                params[key] = Upload(value.filename, value.content_type, value.file.read())
    return {key: _decode(key, value) for key, value in params.items()}


def _decode(key: str, value: Any) -> Any:
    """Form values are text; structured parameters are JSON-serialised inside them."""
    if key in _JSON_PARAMS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise Malformed(f"can't parse {key} JSON object") from None
    return value


def _answer(body: Json, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _same_token(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "1"}


def _allowed(update: Json, allowed: Any) -> bool:
    if not allowed:
        return True
    return any(kind in update for kind in allowed)


def _files_of(message: Json) -> list[Json]:
    found = [message["photo"][-1]] if message.get("photo") else []
    for kind in ("document", "audio", "video", "voice", "animation", "video_note", "sticker"):
        if isinstance(message.get(kind), dict):
            found.append(message[kind])
    return found


def _callback_data(message: Json, button: str) -> str:
    __tracebackhide__ = True
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    buttons = [b for row in rows for b in row]
    for candidate in buttons:
        if button in (candidate.get("text"), candidate.get("callback_data")):
            if "callback_data" not in candidate:
                raise AssertionError(f"button {button!r} has no callback_data: it cannot be "
                                     "pressed (a URL or other kind of button)")
            return str(candidate["callback_data"])
    labels = ", ".join(repr(b.get("text")) for b in buttons) or "none"
    raise AssertionError(
        f"telegram emulator: no button {button!r} on message {message.get('message_id')} "
        f"in chat {message['chat']['id']}; its buttons: {labels}"
    )


def _user_message(message: Delivery | Json) -> Json:
    if isinstance(message, Delivery):
        for kind in ("message", "edited_message", "channel_post"):
            if kind in message.payload:
                return dict(message.payload[kind])
        raise ValueError("inject_edit: that delivery carries no message")
    return dict(message)
