"""A local Discord for offline tests: the REST subset bots use, the gateway websocket, and
interactions delivered over the gateway or signed to an interactions endpoint.

discord.py works against it inside `with emulator.route_discord_py():`, which points
discord.py's REST base (`Route.BASE`) and default gateway at the emulator and restores them
on exit (process-wide, like those settings themselves). The REST side serves `/users/@me`,
`/applications/@me`, `/gateway/bot`, channel messages (create, edit, delete, with multipart
attachments), reactions, typing, application commands (list, bulk overwrite, global and per
guild), interaction callbacks (PONG, messages, deferrals, updates, modals; `?with_response=1`
answered with the callback response as Discord answers it, else 204) and the interaction
webhook (follow-ups; get, edit and delete the original response or a follow-up), with
Discord's JSON error bodies. Any other route answers 404 `{"message": "not emulated: METHOD
/path", "code": 0}` and is recorded; a wrong token answers 401 `{"message": "401:
Unauthorized", "code": 0}` (the gateway closes with 4004).

Usage::

    async with DiscordEmulator() as discord_:         # or the `discord_emulator` fixture
        guild = discord_.add_guild("Support")
        channel = discord_.add_channel(guild["id"], "general")
        with discord_.route_discord_py():
            client = MyBot(intents=discord.Intents.default())
            await client.login(discord_.token)
            ... # run client.connect() in a task, then
            await discord_.wait_for_session()
            await discord_.inject_command(channel["id"], "ping")
            reply = await discord_.wait_for(channel["id"], "pong")
            await discord_.inject_button(reply, "Again")
        discord_.rate_limit("POST /channels/{channel_id}/messages", retry_after=0.5)
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import logging
import re
import secrets
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

import aiohttp
import yarl
from aiohttp import web
from aiohttp.log import access_logger
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from botgate.testing.base import Delivery, EmulatorServer, post
from botgate.testing.base import DeliveryResult as DeliveryResult
from botgate.testing.discord_gateway import DiscordGateway, Session
from botgate.testing.discord_rest import (
    API_PREFIX,
    Answer,
    DiscordRest,
    RecordedRequest,
    as_json,
    error,
    iso_now,
    route_of,
)
from botgate.testing.faults import Clock, Fault
from botgate.testing.sent import Sent

Json = dict[str, Any]
DISCORD_EPOCH_MS = 1420070400000
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}

# Channel types (https://discord.com/developers/docs/resources/channel#channel-object-channel-types)
GUILD_TEXT, DM, GUILD_VOICE, GROUP_DM = 0, 1, 2, 3
PUBLIC_THREAD, PRIVATE_THREAD = 11, 12
# Application command option types by the Python type of a value.
_OPTION_TYPES: dict[type, int] = {str: 3, int: 4, bool: 5, float: 10}


class DiscordEmulator(DiscordRest, DiscordGateway, EmulatorServer[RecordedRequest]):
    """A Discord REST API + gateway on an ephemeral 127.0.0.1 port; an async context manager."""

    platform: ClassVar[str] = "discord"
    access_log: ClassVar[logging.Logger | None] = access_logger

    def __init__(
        self,
        *,
        token: str = "emulated.bot.token",  # noqa: S107 - a fake token for a fake Discord
        bot_name: str = "botgate",
        heartbeat_interval: float = 41.25,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(clock=clock)
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self.private_key = Ed25519PrivateKey.generate()
        self._ids = itertools.count(1)
        self.application_id = self.new_id()
        self.bot_user = self._user(bot_name, bot=True, user_id=self.application_id)
        self.users: dict[str, Json] = {self.bot_user["id"]: self.bot_user}
        self.guilds: dict[str, Json] = {}
        self.channels: dict[str, Json] = {}
        self.messages: dict[str, Json] = {}
        self._nonces: dict[tuple[str, str], str] = {}  # (channel, nonce) -> message id
        self.commands: list[Json] = []
        self.interactions: dict[str, Json] = {}  # token -> interaction
        self.answers: dict[str, Answer] = {}  # token -> how the bot answered it
        self.modals: list[Json] = []
        self.forbidden_channels: set[str] = set()
        self.interactions_url: str | None = None
        self.gateway_ops: list[Json] = []  # every payload a client sent on the gateway
        self.sessions: dict[str, Session] = {}
        self._session_ready = asyncio.Condition()
        self._established = 0  # sessions identified or resumed so far
        self._sockets: set[web.WebSocketResponse] = set()
        self._default_user: Json | None = None

    # lifecycle

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/gateway", self._gateway)
        router.add_route("*", API_PREFIX + "/{path:.*}", self._rest)

    async def _stopping(self) -> None:
        for socket in list(self._sockets):
            await socket.close(code=1001)

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return self.ws_base_url + "/gateway"

    @property
    def public_key_hex(self) -> str:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    @contextlib.contextmanager
    def route_discord_py(self) -> Iterator[None]:
        """While inside, discord.py talks to this emulator: `discord.http.Route.BASE` (every
        REST call, interaction responses and webhooks included) and
        `DiscordWebSocket.DEFAULT_GATEWAY` point here; both are restored on exit. They are
        process-wide in discord.py, so one emulator at a time."""
        with warnings.catch_warnings():  # discord.py imports audioop; Python 3.11 warns
            warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
            from discord.gateway import DiscordWebSocket
            from discord.http import Route

        saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
        Route.BASE = self.api_url
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved

    # the world

    def new_id(self) -> str:
        """A snowflake: milliseconds since the Discord epoch, then a counter."""
        return str(((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(self._ids) & 0xFFF))

    def add_user(self, username: str, *, bot: bool = False, global_name: str | None = None) -> Json:
        user = self._user(username, bot=bot, global_name=global_name)
        self.users[user["id"]] = user
        return user

    def _user(
        self,
        username: str,
        *,
        bot: bool,
        user_id: str | None = None,
        global_name: str | None = None,
    ) -> Json:
        return {
            "id": user_id or self.new_id(),
            "username": username,
            "discriminator": "0",
            "global_name": global_name,
            "avatar": None,
            "bot": bot,
            "flags": 0,
            "public_flags": 0,
        }

    def add_guild(self, name: str) -> Json:
        guild_id = self.new_id()
        guild = {
            "id": guild_id,
            "name": name,
            "owner_id": self.bot_user["id"],
            "channels": [],
            "threads": [],
            "members": [],
            "roles": [{"id": guild_id, "name": "@everyone", "permissions": "0", "position": 0}],
            "emojis": [],
            "stickers": [],
            "features": [],
            "member_count": 1,
            "large": False,
            "joined_at": iso_now(),
            "system_channel_id": None,
        }
        self.guilds[guild_id] = guild
        return guild

    def add_channel(
        self, guild_id: str, name: str, *, type: int = GUILD_TEXT, parent_id: str | None = None
    ) -> Json:
        channel: Json = {
            "id": self.new_id(),
            "type": type,
            "guild_id": guild_id,
            "name": name,
            "position": len(self.channels),
            "permission_overwrites": [],
            "parent_id": parent_id,
        }
        self.channels[channel["id"]] = channel
        self.guilds[guild_id]["channels"].append(channel)
        return channel

    def add_thread(self, parent: Json, name: str, *, private: bool = False) -> Json:
        thread: Json = {
            "id": self.new_id(),
            "type": PRIVATE_THREAD if private else PUBLIC_THREAD,
            "guild_id": parent["guild_id"],
            "parent_id": parent["id"],
            "owner_id": self.bot_user["id"],
            "name": name,
            "message_count": 0,
            "member_count": 1,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso_now(),
                "locked": False,
            },
        }
        self.channels[thread["id"]] = thread
        self.guilds[parent["guild_id"]]["threads"].append(thread)
        return thread

    def add_dm(self, user: Json) -> Json:
        channel: Json = {"id": self.new_id(), "type": DM, "recipients": [user]}
        channel["last_message_id"] = None
        self.channels[channel["id"]] = channel
        return channel

    def message(self, channel_id: str, author: Json, content: str, **fields: Any) -> Json:
        """A message object shaped as Discord returns and dispatches it."""
        channel = self.channels.get(channel_id, {})
        message: Json = {
            "id": self.new_id(),
            "channel_id": channel_id,
            "author": author,
            "content": content,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [
                self.users[u] for u in re.findall(r"<@!?(\d+)>", content) if u in self.users
            ],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            "components": [],
        }
        if "guild_id" in channel:
            message["guild_id"] = channel["guild_id"]
            message["member"] = {
                "roles": [],
                "joined_at": iso_now(),
                "nick": None,
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        message.update(fields)
        return message

    async def post_user_message(
        self, channel_id: str, author: Json, content: str, **fields: Any
    ) -> Json:
        """A user writes in a channel: stored, then dispatched as MESSAGE_CREATE."""
        message = self.message(channel_id, author, content, **fields)
        self.messages[message["id"]] = message
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    async def add_bot_to_guild(self, guild: Json) -> None:
        """The bot joins a guild: GUILD_CREATE without `unavailable`."""
        self.guilds[guild["id"]] = guild
        await self.dispatch("GUILD_CREATE", guild)

    async def remove_bot_from_guild(self, guild_id: str) -> None:
        self.guilds.pop(guild_id, None)
        await self.dispatch("GUILD_DELETE", {"id": guild_id})

    # REST

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        name, handler, ids, needs_bot = route_of(request.method, path)
        call = RecordedRequest(
            name=name, method=request.method, path=path, query=dict(request.query), json=None,
            headers=dict(request.headers),
        )
        self._record(call)
        try:
            call.json, call.files = await _body(request)
        except ValueError:
            call.outcome(400, "The request body contains invalid JSON.")
            return error(400, 50109, "The request body contains invalid JSON.")
        answer = await self._answer(request, call, handler, ids, needs_bot)
        call.outcome(answer.status, _error_text(answer))
        return answer

    async def _answer(
        self, request: web.Request, call: RecordedRequest, handler: str, ids: dict[str, str],
        needs_bot: bool,
    ) -> web.StreamResponse:
        faulted = await self._faulted(request, call)
        if faulted is not None:
            return faulted
        if not handler:
            return error(404, 0, f"not emulated: {call.method} {call.path}")
        if needs_bot and not _authorized(call.headers.get("Authorization"), self.token):
            return error(401, 0, "401: Unauthorized")
        result: web.StreamResponse = await getattr(self, handler)(call, **ids)
        return result

    def _error(self, status: int, text: str) -> web.StreamResponse:
        return as_json({"message": text, "code": 50035 if status == 400 else 0}, status)

    def _fault_answer(self, fault: Fault) -> web.StreamResponse:
        if fault.kind == "rate_limit":
            return _rate_limited(fault.retry_after, bool((fault.body or {}).get("global")))
        if fault.kind == "error":
            return as_json(fault.body, fault.status, fault.headers)
        reason = _REASONS.get(fault.status, "Internal Server Error")
        return as_json({"message": f"{fault.status}: {reason}", "code": 0}, fault.status)

    def fail(
        self, route: str, *, status: int, code: int, message: str, times: int | None = None,
        seconds: float | None = None, until_cleared: bool = False,
        headers: Mapping[str, str] | None = None, extra: Json | None = None,
    ) -> Fault:
        """Requests of `route` ("POST /channels/{channel_id}/messages", "*" for all) answer
        `status` with Discord's `{"message", "code"}` body (see `rate_limit` for how long)."""
        body = {"message": message, "code": code, **(extra or {})}
        fault = Fault("error", route, status=status, body=body, headers=dict(headers or {}))
        return self.faults.add(fault, times=times, seconds=seconds, until_cleared=until_cleared)

    def rate_limit(
        self, name: str, *, retry_after: float = 1, times: int | None = None,
        seconds: float | None = None, until_cleared: bool = False, global_: bool = False,
    ) -> Fault:
        """Discord's 429 with `retry_after`, its headers and `global` when `global_`."""
        fault = super().rate_limit(
            name, retry_after=retry_after, times=times, seconds=seconds,
            until_cleared=until_cleared,
        )
        fault.body = {"global": global_}
        return fault

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests with this method whose path matches the regex `path` in full."""
        pattern = re.compile(path)
        return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    # read back

    def sent(self, chat: int | str) -> list[Sent]:
        return [s for s in self._all_sent() if s.chat == str(chat)]

    def _all_sent(self) -> Iterable[Sent]:
        mine = [m for m in self.messages.values() if m["author"]["id"] == self.bot_user["id"]]
        for message in sorted(mine, key=lambda m: int(m["id"])):
            yield _as_sent(message)

    async def wait_for_modal(self, timeout: float = 5.0) -> Json:
        """Wait until the bot answered an interaction with a modal; the newest one."""
        __tracebackhide__ = True
        await self.wait_until(lambda: bool(self.modals), timeout, what="a modal")
        return self.modals[-1]

    # what users do, delivered as Discord delivers it

    @property
    def default_user(self) -> Json:
        """The user injections come from when none is given ("alice")."""
        if self._default_user is None:
            self._default_user = self.add_user("alice", global_name="Alice")
        return self._default_user

    async def inject_message(
        self, chat: str, text: str, *, user: Json | None = None, **fields: Any
    ) -> Delivery:
        """`user` writes `text` in channel `chat`: MESSAGE_CREATE over the gateway."""
        await self._wait_for_gateway()
        message = await self.post_user_message(chat, user or self.default_user, text, **fields)
        return self._delivered(Delivery("gateway", message))

    async def inject_edit(self, message: Delivery | Json, text: str) -> Delivery:
        """The user edits a message they wrote: MESSAGE_UPDATE over the gateway."""
        original = message.payload if isinstance(message, Delivery) else message
        stored = self.messages.get(original["id"], original)
        stored.update(content=text, edited_timestamp=iso_now())
        await self._wait_for_gateway()
        await self.dispatch("MESSAGE_UPDATE", stored)
        return self._delivered(Delivery("gateway", stored))

    async def inject_command(
        self, chat: str, name: str, options: Mapping[str, Any] | None = None, *,
        user: Json | None = None,
    ) -> Delivery:
        """`user` runs the slash command `name` in channel `chat` with `options` (by name;
        types taken from the registered command, else from the Python values)."""
        command = self._registered(name, chat)
        data: Json = {"id": command.get("id", self.new_id()), "name": name, "type": 1}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        if options:
            data["options"] = _options(command, options)
        interaction = self._interaction(2, chat, user or self.default_user, data)
        return await self._deliver_interaction(interaction)

    async def inject_button(
        self, message: Sent | Json, button: str, *, user: Json | None = None
    ) -> Delivery:
        """`user` clicks the button labelled `button` (or with that custom_id) on a message
        the bot sent: a MESSAGE_COMPONENT interaction."""
        __tracebackhide__ = True
        raw = message.raw if isinstance(message, Sent) else message
        custom_id = _find_button(raw, button)
        interaction = self.component_interaction(raw, user or self.default_user, custom_id)
        return await self._deliver_interaction(interaction)

    async def inject_modal_submit(
        self, modal: Json, values: Mapping[str, str], *, user: Json | None = None
    ) -> Delivery:
        """The user the bot showed `modal` to (a `wait_for_modal` result) submits it with
        `values` by custom_id: a MODAL_SUBMIT interaction."""
        opened = self.interactions[modal["interaction"]]
        fields = {**modal, "channel_id": opened["channel_id"]}
        interaction = self.modal_submit_interaction(fields, values, user or modal["user"])
        return await self._deliver_interaction(interaction)

    async def _deliver_interaction(self, interaction: Json) -> Delivery:
        """To `interactions_url` when set (its answer applied as the callback), else as
        INTERACTION_CREATE over the gateway."""
        self.interactions[interaction["token"]] = interaction
        if self.interactions_url:
            result = await self.deliver_interaction(self.interactions_url, interaction)
            if result.status == 200:
                self._apply_endpoint_answer(interaction, result)
            await self._touch()
            return self._delivered(Delivery("interactions_endpoint", interaction, result))
        await self._wait_for_gateway()
        await self.dispatch("INTERACTION_CREATE", interaction)
        return self._delivered(Delivery("gateway", interaction))

    def _apply_endpoint_answer(self, interaction: Json, result: DeliveryResult) -> None:
        try:
            body = result.json()
        except ValueError:
            return
        if isinstance(body, dict) and isinstance(body.get("type"), int):
            answer = RecordedRequest(name="interactions_endpoint", method="POST", path="",
                                     query={}, json=body, headers={})
            self.apply_callback(interaction, answer)

    async def _wait_for_gateway(self, within: float = 5.0) -> None:
        __tracebackhide__ = True
        try:
            async with asyncio.timeout(within):
                while not any(s.connection for s in self.sessions.values()):
                    await self._next_change()
        except TimeoutError:
            raise AssertionError(
                "discord emulator: no gateway session within 5s and no interactions_url set: "
                "connect your client inside route_discord_py() (and await "
                "wait_for_session()), or set discord_emulator.interactions_url"
            ) from None

    def _registered(self, name: str, channel_id: str) -> Json:
        guild = self.channels.get(channel_id, {}).get("guild_id", "")
        for command in self.commands:
            if command["name"] == name and command.get("guild_id", "") in ("", guild):
                return command
        return {}

    # interactions, signed as Discord signs them

    def signed_headers(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        """`X-Signature-Ed25519` over timestamp + body with this emulator's key."""
        stamp = timestamp or str(int(time.time()))
        signature = self.private_key.sign(stamp.encode() + body).hex()
        return {
            "X-Signature-Ed25519": signature,
            "X-Signature-Timestamp": stamp,
            "Content-Type": "application/json",
        }

    async def deliver_interaction(self, url: str, interaction: Json) -> DeliveryResult:
        """POST a signed interaction to a gateway URL; remembers its token for follow-ups."""
        self.interactions[interaction["token"]] = interaction
        body = json.dumps(interaction).encode()
        # A session of its own: each delivery on a fresh connection, even outside `async with`.
        async with aiohttp.ClientSession() as http:
            return await post(http, url, body, self.signed_headers(body))

    def ping_interaction(self) -> Json:
        return {
            "id": self.new_id(),
            "application_id": self.application_id,
            "type": 1,
            "token": secrets.token_urlsafe(48),
            "version": 1,
            "user": self.bot_user,
        }

    def command_interaction(
        self, channel_id: str, user: Json, name: str, options: list[Json] | None = None
    ) -> Json:
        """An APPLICATION_COMMAND (type 2) interaction for a slash command."""
        data: Json = {"id": self.new_id(), "name": name, "type": 1}
        if options:
            data["options"] = options
        return self._interaction(2, channel_id, user, data)

    def modal_submit_interaction(self, modal: Json, values: Mapping[str, str], user: Json) -> Json:
        """A MODAL_SUBMIT (type 5) interaction: `user` filled `modal`'s inputs with `values`
        (by custom_id) and submitted it."""
        data = {"custom_id": modal["custom_id"],
                "components": [_submitted(c, values) for c in modal.get("components", [])]}
        return self._interaction(5, modal["channel_id"], user, data)

    def component_interaction(
        self, message: Json, user: Json, custom_id: str, values: list[str] | None = None
    ) -> Json:
        """A MESSAGE_COMPONENT (type 3) interaction: a click on a button of `message`."""
        data: Json = {"custom_id": custom_id, "component_type": 2 if values is None else 3}
        if values is not None:
            data["values"] = values
        interaction = self._interaction(3, message["channel_id"], user, data)
        interaction["message"] = message
        return interaction

    def _interaction(self, kind: int, channel_id: str, user: Json, data: Json) -> Json:
        channel = self.channels.get(channel_id, {"id": channel_id, "type": DM})
        interaction: Json = {
            "id": self.new_id(),
            "application_id": self.application_id,
            "type": kind,
            "data": data,
            "channel_id": channel_id,
            "channel": channel,
            "token": secrets.token_urlsafe(48),
            "version": 1,
            "locale": "en-US",
            "app_permissions": "2248473465835073",
            "entitlements": [],
            "authorizing_integration_owners": {"0": channel.get("guild_id", "0")},
            "attachment_size_limit": 10 * 1024 * 1024,
            "context": 0 if "guild_id" in channel else 1,
        }
        if "guild_id" in channel:
            interaction["guild_id"] = channel["guild_id"]
            interaction["guild_locale"] = "en-US"
            interaction["guild"] = {"id": channel["guild_id"], "locale": "en-US", "features": []}
            interaction["member"] = {
                "user": user,
                "roles": [],
                "nick": None,
                "joined_at": iso_now(),
                "permissions": "2248473465835073",
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        else:
            interaction["user"] = user
        return interaction


async def _body(request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
    """The JSON payload and the files of a request (discord.py sends multipart with
    `payload_json` and `files[n]` when it attaches files); ValueError for bad JSON."""
    if request.content_type == "multipart/form-data":
        payload: Any = None
        files: list[tuple[str, bytes]] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, aiohttp.BodyPartReader):
                continue
            content = await part.read()
            if part.name == "payload_json":
                payload = json.loads(content)
            elif part.filename:
                files.append((part.filename, bytes(content)))
        return payload, files
    body = await request.read()
    if not body or request.content_type != "application/json":
        return None, []
    return json.loads(body), []


def _authorized(header: str | None, token: str) -> bool:
    return hmac.compare_digest((header or "").encode(), f"Bot {token}".encode())


def _error_text(answer: web.StreamResponse) -> str | None:
    if answer.status < 400 or not isinstance(answer, web.Response) or answer.body is None:
        return None
    try:
        return str(json.loads(bytes(answer.body)).get("message"))  # type: ignore[arg-type]
    except (ValueError, AttributeError, TypeError):
        return None


def _rate_limited(retry_after: float, global_: bool) -> web.Response:
    headers = {
        "Retry-After": str(max(1, round(retry_after))),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Bucket": "emulated-bucket",
        "X-RateLimit-Scope": "global" if global_ else "user",
        "Via": "1.1 google",  # discord.py treats a 429 without it as a Cloudflare ban
    }
    if global_:
        headers["X-RateLimit-Global"] = "true"
    body = {"message": "You are being rate limited.", "retry_after": retry_after,
            "global": global_, "code": 0}
    return as_json(body, 429, headers)


def _walk(components: Iterable[Json]) -> Iterator[Json]:
    for component in components:
        yield component
        yield from _walk(component.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(component.get(key), dict):
                yield from _walk([component[key]])


def _as_sent(message: Json) -> Sent:
    buttons = tuple(
        str(c.get("label") or c.get("custom_id") or "")
        for c in _walk(message.get("components") or []) if c.get("type") == 2
    )
    embeds = message.get("embeds") or [{}]
    return Sent(
        chat=str(message["channel_id"]), id=str(message["id"]),
        text=message.get("content") or embeds[0].get("description") or embeds[0].get("title")
        or "",
        buttons=buttons, files=tuple(a["filename"] for a in message.get("attachments") or []),
        ephemeral=bool(int(message.get("flags") or 0) & 64),
        edited=message.get("edited_timestamp") is not None, raw=message,
    )


def _find_button(message: Json, button: str) -> str:
    __tracebackhide__ = True
    found = [c for c in _walk(message.get("components") or []) if c.get("type") == 2]
    for component in found:
        if button in (component.get("label"), component.get("custom_id")):
            if "custom_id" not in component:
                raise AssertionError(f"button {button!r} is a link: it cannot be clicked")
            return str(component["custom_id"])
    labels = ", ".join(repr(c.get("label")) for c in found) or "none"
    raise AssertionError(
        f"discord emulator: no button {button!r} on message {message.get('id')}; "
        f"its buttons: {labels}"
    )


def _options(command: Json, values: Mapping[str, Any]) -> list[Json]:
    declared = {o["name"]: o for o in command.get("options") or []}
    return [
        {"name": name, "value": value,
         "type": declared.get(name, {}).get("type") or _OPTION_TYPES.get(type(value), 3)}
        for name, value in values.items()
    ]


def _submitted(component: Json, values: Mapping[str, str]) -> Json:
    """A modal component as Discord sends it back on submit, holding the user's values."""
    if component.get("type") == 1:
        return {"type": 1, "components": [_submitted(c, values)
                                          for c in component.get("components", [])]}
    if component.get("type") == 18:
        return {"type": 18, "id": component.get("id", 0),
                "component": _submitted(component["component"], values)}
    custom_id = component.get("custom_id", "")
    value = values.get(custom_id, component.get("value") or "")
    if component.get("type") == 3:
        return {"type": 3, "custom_id": custom_id, "values": [value] if value else []}
    return {"type": component.get("type", 4), "custom_id": custom_id, "value": value}
