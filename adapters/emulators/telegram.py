"""A local Telegram Bot API for offline tests: the real python-telegram-bot client works against
it through `base_url`.

It serves `getMe`, `setWebhook`, `deleteWebhook`, `getWebhookInfo`, `getUpdates` (long polling
with offsets, like Telegram's), `sendMessage`, `editMessageText`, `deleteMessage`,
`sendChatAction`, `answerCallbackQuery`, `setMessageReaction` and `getFile` (plus file downloads)
on `/bot<token>/<method>`, taking query strings, form, multipart and JSON bodies like the real
API, and answering in Telegram's shapes: `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}`, 429 with
`parameters.retry_after`. MarkdownV2 text is parsed as Telegram parses it: an unescaped reserved
character is `400 can't parse entities`, and the stored message holds the plain text and its
entities. Every request is recorded for assertions.

Updates are delivered like Telegram delivers them: to the webhook set with `setWebhook`, with
the `X-Telegram-Bot-Api-Secret-Token` header (a method in the webhook's answer, such as
`answerCallbackQuery`, is run as Telegram runs it), or else queued for `getUpdates`. A failed
webhook delivery is not retried by itself: call `deliver` again to re-deliver.

Usage::

    from telegram import Bot
    from adapters.emulators.telegram import TelegramEmulator

    async with TelegramEmulator() as telegram:
        async with Bot(telegram.token, base_url=telegram.api_base_url) as bot:
            await bot.send_message(42, "hello")
        assert telegram.calls("sendMessage")[0].params["text"] == "hello"

        telegram.rate_limit("sendMessage", retry_after=1)  # the next send gets a 429
        telegram.block(42)  # "Forbidden: bot was blocked by the user" from now on

        alice = telegram.user(42, "Alice", username="alice")
        update = telegram.message_update(telegram.private_chat(alice), alice, "/start")
        await telegram.deliver(update)  # to the webhook if one is set, else to getUpdates
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import web

from adapters.emulators.base import DeliveryResult as DeliveryResult
from adapters.emulators.base import EmulatorServer, post

Json = dict[str, Any]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
# The emoji Telegram accepts as reactions (ReactionTypeEmoji).
_REACTION_EMOJI = (
    "👍 👎 ❤ 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 "
    "👌 🕊 🤡 🥱 🥴 😍 🐳 ❤‍🔥 🌚 🌭 💯 🤣 ⚡ 🍌 🏆 💔 "
    "🤨 😐 🍓 🍾 💋 🖕 😈 😴 😭 🤓 👻 👨‍💻 👀 🎃 🙈 😇 "
    "😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 😘 "
    "💊 🙊 😎 👾 🤷‍♂ 🤷 🤷‍♀ 😡"
)
REACTIONS = frozenset(_REACTION_EMOJI.split())
_JSON_PARAMS = {
    "reply_markup",
    "reply_parameters",
    "reaction",
    "allowed_updates",
    "entities",
    "link_preview_options",
    "caption_entities",
}


@dataclass(frozen=True)
class RecordedCall:
    """One Bot API request as the emulator received it. `via` is "http", or "webhook" for a
    method given in a webhook answer."""

    http_method: str
    api_method: str
    params: Json
    headers: Mapping[str, str]
    via: str = "http"


@dataclass
class Webhook:
    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] | None = None


@dataclass
class _Failure:
    error_code: int
    description: str
    retry_after: int | None = None
    chat_id: int | str | None = None


@dataclass
class _Poll:
    pending: deque[Json] = field(default_factory=deque)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)


class ApiError(Exception):
    """A Bot API error answer: `error_code` and Telegram's own `description`."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> Json:
        body: Json = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


class TelegramEmulator(EmulatorServer[RecordedCall]):
    """An async context manager serving a fake Bot API on an ephemeral 127.0.0.1 port."""

    shutdown_timeout: ClassVar[float] = 1.0

    def __init__(
        self,
        token: str = "123456789:AAEmulatorTokenForOfflineTests_0000",  # noqa: S107 (a fake)
        *,
        username: str = "botgate_test_bot",
        first_name: str = "Botgate",
    ) -> None:
        super().__init__()
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
        self.files: dict[str, tuple[Json, bytes]] = {}
        self.answered: dict[str, Json] = {}
        self._queries: set[str] = set()
        self._blocked: set[int] = set()
        self._missing: set[int] = set()
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._poll = _Poll()
        self._closing = False
        self._changed = asyncio.Condition()  # notified after every request and delivery
        self._update_ids = itertools.count(100_000_001)
        self._message_ids: dict[int, int] = defaultdict(lambda: 1000)

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
        return f"{self.base_url}/file/bot"

    # assertions

    def calls(self, api_method: str | None = None) -> list[RecordedCall]:
        """Recorded requests, oldest first; method names compare case-insensitively."""
        if api_method is None:
            return list(self.requests)
        return [c for c in self.requests if c.api_method.lower() == api_method.lower()]

    def sent(self, chat_id: int | str) -> list[Json]:
        """Messages the bot sent to a chat and has not deleted, oldest first, as stored now."""
        chat = int(chat_id)
        return [
            message
            for (at, _), message in sorted(self.messages.items())
            if at == chat
            and message.get("from", {}).get("id") == self.bot_user["id"]
            and (at, message["message_id"]) not in self.deleted
        ]

    async def wait_for(self, predicate: Callable[[], bool], seconds: float = 5.0) -> None:
        """Wait until `predicate()` holds (e.g. a call was recorded); TimeoutError otherwise."""
        async with asyncio.timeout(seconds):
            while not predicate():
                async with self._changed:
                    # Woken by the emulator's own changes; the short wait sees anyone else's.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), 0.02)

    async def wait_for_calls(self, api_method: str, count: int = 1, seconds: float = 5.0) -> None:
        await self.wait_for(lambda: len(self.calls(api_method)) >= count, seconds)

    async def _touch(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    @property
    def pending_updates(self) -> list[Json]:
        """Updates queued for getUpdates and not yet confirmed by an offset."""
        return list(self._poll.pending)

    # failure injection

    def fail(
        self,
        api_method: str,
        error_code: int,
        description: str,
        *,
        times: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """The next `times` calls of `api_method` (to `chat_id`, when given) fail like that."""
        failure = _Failure(error_code, description, chat_id=chat_id)
        self._failures[api_method.lower()].extend(failure for _ in range(times))

    def rate_limit(
        self,
        api_method: str,
        *,
        retry_after: int = 1,
        times: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """The next `times` calls answer 429 `Too Many Requests: retry after N`."""
        failure = _Failure(
            429, f"Too Many Requests: retry after {retry_after}", retry_after, chat_id
        )
        self._failures[api_method.lower()].extend(failure for _ in range(times))

    def block(self, chat_id: int | str) -> None:
        """The user blocked the bot: sends to this chat answer 403."""
        self._blocked.add(int(chat_id))

    def remove_chat(self, chat_id: int | str) -> None:
        """The bot has no access to this chat any more: 400 chat not found."""
        self._missing.add(int(chat_id))

    def add_file(self, file_id: str, content: bytes, file_path: str | None = None) -> Json:
        """A file `getFile` knows and `/file/bot<token>/<file_path>` serves."""
        info: Json = {
            "file_id": file_id,
            "file_unique_id": f"u{abs(hash(file_id)) % 10**10}",
            "file_size": len(content),
            "file_path": file_path or f"documents/{file_id}",
        }
        self.files[file_id] = (info, content)
        return info

    # the Bot API over HTTP

    async def _api(self, request: web.Request) -> web.Response:
        api_method = request.match_info["method"]
        params = await _request_params(request)
        self.requests.append(
            RecordedCall(request.method, api_method, params, dict(request.headers))
        )
        if request.match_info["token"] != self.token:
            return _answer(ApiError(401, "Unauthorized").body(), 401)
        try:
            result = await self._run(api_method, params)
        except ApiError as exc:
            return _answer(exc.body(), exc.error_code)
        finally:
            await self._touch()
        return _answer({"ok": True, "result": result})

    async def _run(self, api_method: str, params: Json) -> Any:
        name = api_method.lower()
        self._raise_injected(name, params)
        if name == "getupdates":
            return await self._get_updates(params)
        handler = self._handlers().get(name)
        if handler is None:
            raise ApiError(404, "Not Found")
        return handler(params)

    def _raise_injected(self, name: str, params: Json) -> None:
        queue = self._failures.get(name)
        if not queue:
            return
        failure = queue[0]
        if failure.chat_id is not None and str(failure.chat_id) != str(params.get("chat_id")):
            return
        queue.popleft()
        raise ApiError(failure.error_code, failure.description, failure.retry_after)

    def _handlers(self) -> dict[str, Callable[[Json], Any]]:
        return {
            "getme": lambda params: self.bot_user,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._webhook_info,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "deletemessage": self._delete_message,
            "sendchataction": self._send_chat_action,
            "answercallbackquery": self._answer_callback_query,
            "setmessagereaction": self._set_message_reaction,
            "getfile": self._get_file,
        }

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _answer(ApiError(401, "Unauthorized").body(), 401)
        for info, content in self.files.values():
            if info["file_path"] == request.match_info["path"]:
                return web.Response(body=content, content_type="application/octet-stream")
        return _answer(ApiError(404, "Not Found").body(), 404)

    # webhook and long polling

    def _set_webhook(self, params: Json) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad("secret token contains unallowed characters")
        if url and not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
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
        offset = int(params.get("offset") or 0)
        limit = min(int(params.get("limit") or 100), 100)
        timeout = float(params.get("timeout") or 0)
        allowed = params.get("allowed_updates")
        self._confirm(offset)
        async with self._poll.arrived:
            await self._wait_for_updates(timeout)
        # Telegram does not keep updates of kinds the poller did not ask for.
        kept = [u for u in self._poll.pending if _allowed(u, allowed)]
        self._poll.pending = deque(kept)
        return kept[:limit]

    async def _wait_for_updates(self, seconds: float) -> None:
        if self._poll.pending or seconds <= 0 or self._closing:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._poll.arrived.wait(), seconds)

    def _confirm(self, offset: int) -> None:
        """An offset confirms every update with a smaller id (Telegram forgets them)."""
        while offset and self._poll.pending and self._poll.pending[0]["update_id"] < offset:
            self._poll.pending.popleft()

    # sending

    def _chat(self, chat_id: Any) -> Json:
        if chat_id in (None, ""):
            raise _bad("chat_id is empty")
        try:
            number = int(chat_id)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None
        if number in self._missing:
            raise _bad("chat not found")
        if number in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return self.chats.get(number) or _guess_chat(number)

    def _send_message(self, params: Json) -> Json:
        chat = self._chat(params.get("chat_id"))
        text, entities = _formatted_text(params)
        message = self._new_message(chat, text, entities)
        self._thread(message, params.get("message_thread_id"))
        self._reply(message, params.get("reply_parameters"), params.get("reply_to_message_id"))
        self._markup(message, params.get("reply_markup"))
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def _new_message(self, chat: Json, text: str, entities: list[Json]) -> Json:
        self._message_ids[chat["id"]] += 1
        message: Json = {
            "message_id": self._message_ids[chat["id"]],
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if entities:
            message["entities"] = entities
        return message

    def _thread(self, message: Json, thread_id: Any) -> None:
        if thread_id not in (None, ""):
            message["message_thread_id"] = int(thread_id)
            if message["chat"].get("is_forum"):
                message["is_topic_message"] = True

    def _reply(self, message: Json, parameters: Any, legacy_id: Any) -> None:
        reply = parameters if isinstance(parameters, dict) else {}
        target = reply.get("message_id", legacy_id)
        if target in (None, ""):
            return
        original = self.messages.get((message["chat"]["id"], int(target)))
        if original is not None:
            message["reply_to_message"] = {
                k: v for k, v in original.items() if k != "reply_to_message"
            }
        elif not reply.get("allow_sending_without_reply"):
            raise _bad("message to be replied not found")

    def _markup(self, message: Json, markup: Any) -> None:
        if not markup:
            return
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if not isinstance(rows, list):
            raise _bad("can't parse reply keyboard markup JSON object")
        for button in (b for row in rows for b in row):
            if len(str(button.get("callback_data", "")).encode()) > MAX_CALLBACK_DATA:
                raise _bad("BUTTON_DATA_INVALID")
            if "text" not in button:
                raise _bad(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
        message["reply_markup"] = markup

    def _own_message(self, params: Json, refusal: str) -> Json:
        chat = self._chat(params.get("chat_id"))
        key = (chat["id"], int(params.get("message_id") or 0))
        message = self.messages.get(key)
        if message is None or key in self.deleted:
            raise _bad(refusal)
        return message

    def _edit_message_text(self, params: Json) -> Json:
        message = self._own_message(params, "message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise _bad("message can't be edited")
        text, entities = _formatted_text(params)
        markup = params.get("reply_markup") or None
        if (
            text == message["text"]
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise _bad(
                "message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message"
            )
        message.update(text=text, edit_date=int(time.time()))
        message.pop("entities", None)
        message.pop("reply_markup", None)
        if entities:
            message["entities"] = entities
        self._markup(message, markup)
        return message

    def _delete_message(self, params: Json) -> bool:
        message = self._own_message(params, "message to delete not found")
        self.deleted.add((message["chat"]["id"], message["message_id"]))
        return True

    def _send_chat_action(self, params: Json) -> bool:
        self._chat(params.get("chat_id"))
        if params.get("action") not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _answer_callback_query(self, params: Json) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._queries or query_id in self.answered:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        self.answered[query_id] = params
        return True

    def _set_message_reaction(self, params: Json) -> bool:
        message = self._own_message(params, "message to react not found")
        reaction = params.get("reaction") or []
        if not isinstance(reaction, list):
            raise _bad("can't parse reaction types JSON object")
        for item in reaction:
            if not _valid_reaction(item):
                raise _bad("REACTION_INVALID")
        self.reactions[(message["chat"]["id"], message["message_id"])] = reaction
        return True

    def _get_file(self, params: Json) -> Json:
        known = self.files.get(str(params.get("file_id") or ""))
        if known is None:
            raise _bad("invalid file_id")
        return known[0]

    # inbound updates

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
        http = self._session()
        self.learn(update)
        result = await post(http, target, json.dumps(update).encode(), headers)
        if 200 <= result.status < 300:
            await self._webhook_answer(result.body)
        return result

    async def _webhook_answer(self, body: str) -> None:
        try:
            answer = json.loads(body)
        except ValueError:
            return
        if not isinstance(answer, dict) or not isinstance(answer.get("method"), str):
            return
        params = {k: v for k, v in answer.items() if k != "method"}
        self.requests.append(RecordedCall("POST", answer["method"], params, {}, via="webhook"))
        with contextlib.suppress(ApiError):  # Telegram drops a failing answer method silently
            await self._run(answer["method"], params)
        await self._touch()

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
            self.files.setdefault(
                media["file_id"], ({**media, "file_path": f"files/{media['file_id']}"}, b"")
            )

    def _learn_chat(self, chat: Json) -> None:
        self.chats[chat["id"]] = {**self.chats.get(chat["id"], {}), **chat}


# request parsing and answers


async def _request_params(request: web.Request) -> Json:
    params: Json = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json() if request.can_read_body else {}
        params.update(body if isinstance(body, dict) else {})
    elif request.can_read_body:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return {key: _decode(key, value) for key, value in params.items()}


def _decode(key: str, value: Any) -> Any:
    """Form values are text; structured parameters are JSON-serialised inside them."""
    if key in _JSON_PARAMS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _answer(body: Json, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "1"}


def _allowed(update: Json, allowed: Any) -> bool:
    if not allowed:
        return True
    return any(kind in update for kind in allowed)


def _valid_reaction(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    if item.get("type") == "emoji":
        return item.get("emoji") in REACTIONS
    if item.get("type") == "custom_emoji":
        return str(item.get("custom_emoji_id", "")).isdigit()
    return item.get("type") == "paid"


def _guess_chat(chat_id: int) -> Json:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "type": kind, "title": f"Chat {chat_id}"}


def _files_of(message: Json) -> list[Json]:
    found = [message["photo"][-1]] if message.get("photo") else []
    for kind in ("document", "audio", "video", "voice", "animation", "video_note", "sticker"):
        if isinstance(message.get(kind), dict):
            found.append(message[kind])
    return found


def _formatted_text(params: Json) -> tuple[str, list[Json]]:
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _bad("message text is empty")
    mode = str(params.get("parse_mode") or "").lower()
    if mode == "markdownv2":
        text, entities = parse_markdown_v2(text)
    elif mode == "html":
        text, entities = _strip_html(text), []
    else:
        given = params.get("entities")
        entities = given if isinstance(given, list) else []
    text, entities = _trimmed(text, entities)
    if not text:
        raise _bad("message text is empty")
    if utf16_len(text) > MAX_TEXT:
        raise _bad("message is too long")
    return text, entities


def _trimmed(text: str, entities: list[Json]) -> tuple[str, list[Json]]:
    """Telegram drops white space around a text; entities move and shrink with it."""
    lead = utf16_len(text) - utf16_len(text.lstrip())
    trimmed = text.strip()
    size = utf16_len(trimmed)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return trimmed, kept


def _strip_html(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{4,32}")


def message_entities(text: str) -> list[Json]:
    """The `bot_command` and `mention` entities Telegram marks in a text it receives."""
    found = [("bot_command", m) for m in _COMMAND.finditer(text)]
    found += [("mention", m) for m in _MENTION.finditer(text)]
    found.sort(key=lambda item: item[1].start())
    return [
        {"offset": utf16_len(text[: m.start()]), "length": utf16_len(m[0]), "type": kind}
        for kind, m in found
    ]


# MarkdownV2, parsed as Telegram parses it

_RESERVED = set("_*[]()~`>#+-=|{}.!")
_STYLE_MARKERS = (
    ("||", "spoiler"),
    ("__", "underline"),
    ("*", "bold"),
    ("_", "italic"),
    ("~", "strikethrough"),
)


class _MarkdownV2:
    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0
        self.out: list[str] = []
        self.offset = 0  # UTF-16 units written so far
        self.entities: list[Json] = []
        self.open: list[tuple[str, int, int]] = []  # (type, offset, byte position of the marker)

    def parse(self) -> tuple[str, list[Json]]:
        while self.index < len(self.text):
            self.step()
        self.close_quote()
        if self.open:
            kind, _, position = self.open[-1]
            raise _bad(
                f"can't parse entities: Can't find end of {kind.title()} entity "
                f"at byte offset {position}"
            )
        return "".join(self.out), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.offset += utf16_len(text)

    def byte_position(self) -> int:
        return len(self.text[: self.index].encode())

    def step(self) -> None:
        text, char = self.text, self.text[self.index]
        if char == "\\":
            self.escaped()
        elif text.startswith("```", self.index):
            self.pre()
        elif char == "`":
            self.code()
        elif char == ">" and self.at_line_start():
            self.open_quote()
        elif char == "\n":
            self.close_quote()
            self.emit(char)
            self.index += 1
        elif char == "[":
            self.open.append(("text_link", self.offset, self.byte_position()))
            self.index += 1
        elif char == "]":
            self.link_end()
        else:
            self.style_or_char(char)

    def escaped(self) -> None:
        following = self.text[self.index + 1 : self.index + 2]
        if not following or not 0 < ord(following) < 127:
            raise _bad(
                "can't parse entities: Character '\\' is reserved "
                "and must be escaped with the preceding '\\'"
            )
        self.emit(following)
        self.index += 2

    def style_or_char(self, char: str) -> None:
        for marker, kind in _STYLE_MARKERS:
            if self.text.startswith(marker, self.index):
                self.toggle(kind)
                self.index += len(marker)
                return
        if char in _RESERVED:
            raise _bad(
                f"can't parse entities: Character '{char}' is reserved and must be escaped "
                "with the preceding '\\'"
            )
        self.emit(char)
        self.index += 1

    def toggle(self, kind: str) -> None:
        if self.open and self.open[-1][0] == kind:
            _, start, _ = self.open.pop()
            self.add(kind, start)
        elif any(entry[0] == kind for entry in self.open):
            raise _bad(f"can't parse entities: Can't find end of {kind.title()} entity")
        else:
            self.open.append((kind, self.offset, self.byte_position()))

    def add(self, kind: str, start: int, **extra: Any) -> None:
        if self.offset > start:
            self.entities.append(
                {"offset": start, "length": self.offset - start, "type": kind, **extra}
            )

    def literal_until(self, end: str) -> str:
        """Text up to `end`, where only '\\' escapes (code, pre, link URLs)."""
        chars: list[str] = []
        while self.index < len(self.text):
            if self.text.startswith(end, self.index):
                self.index += len(end)
                return "".join(chars)
            step = 2 if self.text[self.index] == "\\" and self.index + 1 < len(self.text) else 1
            chars.append(self.text[self.index + step - 1])
            self.index += step
        raise _bad(
            "can't parse entities: Can't find end of the entity starting "
            f"at byte offset {self.byte_position()}"
        )

    def code(self) -> None:
        start = self.offset
        self.index += 1
        self.emit(self.literal_until("`"))
        self.add("code", start)

    def pre(self) -> None:
        start = self.offset
        self.index += 3
        body = self.literal_until("```")
        first, newline, rest = body.partition("\n")
        language = first.strip() if newline and first.strip() and " " not in first.strip() else None
        code = rest if language is not None or (newline and not first.strip()) else body
        self.emit(code.removesuffix("\n"))  # the line break before the closing fence
        self.add("pre", start, **({"language": language} if language else {}))

    def link_end(self) -> None:
        if (
            not self.open
            or self.open[-1][0] != "text_link"
            or not self.text.startswith("](", self.index)
        ):
            raise _bad(
                "can't parse entities: Character ']' is reserved "
                "and must be escaped with the preceding '\\'"
            )
        _, start, _ = self.open.pop()
        self.index += 2
        url = self.literal_until(")")
        self.add("text_link", start, url=url)

    def at_line_start(self) -> bool:
        return self.index == 0 or self.text[self.index - 1] == "\n"

    def open_quote(self) -> None:
        self.open.append(("blockquote", self.offset, self.byte_position()))
        self.index += 1

    def close_quote(self) -> None:
        if self.open and self.open[-1][0] == "blockquote":
            _, start, _ = self.open.pop()
            self.add("blockquote", start)


def parse_markdown_v2(text: str) -> tuple[str, list[Json]]:
    """Plain text and entities of a MarkdownV2 text, or ApiError 400 as Telegram answers."""
    return _MarkdownV2(text).parse()
