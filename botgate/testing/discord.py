"""A local Discord for offline tests: the REST subset bots use, the gateway websocket, and signed
interactions.

The real discord.py client works against it: point its REST routes at `api_url` and its
gateway at `gateway_url` (`GET /gateway/bot` answers with it too). The REST side serves
`/users/@me`, `/oauth2/applications/@me`, `/gateway/bot`, channel messages (create, edit,
delete), reactions, typing, application commands (list, bulk overwrite), interaction callbacks
and follow-ups, with Discord's own JSON error bodies (`10003 Unknown Channel`,
`50001 Missing Access`, `10008 Unknown Message`, `10015 Unknown Webhook`, `50035 Invalid Form
Body`) and `X-RateLimit-*` headers; it answers 429 with `retry_after` when told to. The gateway
speaks the real protocol (API v10, JSON, optionally `zlib-stream` compressed): HELLO (op 10),
IDENTIFY (op 2) -> READY and GUILD_CREATE, heartbeats (op 1) and their ACKs (op 11), dispatches
(op 0) with sequence numbers, RESUME (op 6) after a dropped connection -> the missed dispatches
replayed and RESUMED, INVALID_SESSION (op 9). Interactions are POSTed to a gateway URL signed
with the emulator's Ed25519 key, exactly as Discord signs them. Every REST request and every
gateway opcode received is recorded.

Usage::

    from botgate.testing.discord import DiscordEmulator

    async with DiscordEmulator() as discord_:
        guild = discord_.add_guild("Support")
        channel = discord_.add_channel(guild["id"], "general")
        alice = discord_.add_user("alice")
        # run your bot with api_base_url=discord_.api_url, token=discord_.token, then:
        await discord_.wait_for_session()
        await discord_.post_user_message(channel["id"], alice, "hello")
        await discord_.drop_connections()  # the client RESUMEs and gets what it missed
        answer = await discord_.deliver_interaction(
            "http://127.0.0.1:8080/webhooks/discord/helpdesk",
            discord_.command_interaction(channel["id"], alice, "help"),
        )
        assert answer.status == 200
        assert discord_.requests_to("POST", "/channels/{id}/messages".format(id=channel["id"]))
        discord_.rate_limit("POST", r"/channels/\\d+/messages", retry_after=0.5)  # next one: 429
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import secrets
import time
import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import aiohttp
from aiohttp import web
from aiohttp.log import access_logger
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from botgate.testing.base import DeliveryResult as DeliveryResult
from botgate.testing.base import EmulatorServer, post

Json = dict[str, Any]
API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1420070400000
INTENT_MESSAGE_CONTENT = 1 << 15

# Channel types (https://discord.com/developers/docs/resources/channel#channel-object-channel-types)
GUILD_TEXT, DM, GUILD_VOICE, GROUP_DM = 0, 1, 2, 3
PUBLIC_THREAD, PRIVATE_THREAD = 11, 12


@dataclass(frozen=True)
class RecordedRequest:
    """One REST request as the emulator received it (path without the `/api/v10` prefix)."""

    method: str
    path: str
    query: Mapping[str, str]
    json: Any
    headers: Mapping[str, str]


@dataclass
class _Failure:
    method: str
    path: re.Pattern[str]
    status: int
    body: Json
    headers: dict[str, str]
    times: int


@dataclass
class _Connection:
    socket: web.WebSocketResponse
    compressor: Any | None  # zlib compressobj for `compress=zlib-stream`

    async def send(self, payload: Json) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        if self.compressor is None:
            await self.socket.send_str(text)
            return
        data = self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        await self.socket.send_bytes(data)


@dataclass
class _Session:
    id: str
    intents: int
    seq: int = 0
    backlog: deque[Json] = field(default_factory=lambda: deque(maxlen=1000))
    connection: _Connection | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class DiscordEmulator(EmulatorServer[RecordedRequest]):
    """A Discord REST API + gateway on an ephemeral 127.0.0.1 port; an async context manager."""

    access_log: ClassVar[logging.Logger | None] = access_logger

    def __init__(
        self,
        *,
        token: str = "emulated.bot.token",  # noqa: S107 - a fake token for a fake Discord
        bot_name: str = "botgate",
        heartbeat_interval: float = 41.25,
    ) -> None:
        super().__init__()
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
        self.commands: list[Json] = []
        self.interactions: dict[str, Json] = {}  # token -> interaction
        self.forbidden_channels: set[str] = set()
        self.gateway_ops: list[Json] = []  # every payload a client sent on the gateway
        self.sessions: dict[str, _Session] = {}
        self._failures: list[_Failure] = []
        self._session_ready = asyncio.Condition()
        self._established = 0  # sessions identified or resumed so far
        self._sockets: set[web.WebSocketResponse] = set()

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
            "joined_at": _iso_now(),
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
                "archive_timestamp": _iso_now(),
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
            "timestamp": _iso_now(),
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
                "joined_at": _iso_now(),
                "nick": None,
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        message.update(fields)
        return message

    # inbound from users, through the gateway

    async def post_user_message(
        self, channel_id: str, author: Json, content: str, **fields: Any
    ) -> Json:
        """A user writes in a channel: stored, then dispatched as MESSAGE_CREATE."""
        message = self.message(channel_id, author, content, **fields)
        self.messages[message["id"]] = message
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    async def dispatch(self, event: str, data: Json) -> int | None:
        """Send a dispatch (op 0) to every session; a disconnected one gets it on RESUME.

        Returns the sequence number of the last session it went to (None: no session)."""
        seq = None
        for session in list(self.sessions.values()):
            seq = await self._dispatch_to(session, event, data)
        return seq

    async def _dispatch_to(self, session: _Session, event: str, data: Json) -> int:
        async with session.lock:
            session.seq += 1
            payload = {"op": 0, "t": event, "s": session.seq, "d": _visible(data, session.intents)}
            session.backlog.append(payload)
            await self._send(session, payload)
            return session.seq

    async def _send(self, session: _Session, payload: Json) -> None:
        connection = session.connection
        if connection is None:
            return
        try:
            await connection.send(payload)
        except (ConnectionResetError, RuntimeError):
            session.connection = None

    async def add_bot_to_guild(self, guild: Json) -> None:
        """The bot joins a guild: GUILD_CREATE without `unavailable`."""
        self.guilds[guild["id"]] = guild
        await self.dispatch("GUILD_CREATE", guild)

    async def remove_bot_from_guild(self, guild_id: str) -> None:
        self.guilds.pop(guild_id, None)
        await self.dispatch("GUILD_DELETE", {"id": guild_id})

    async def drop_connections(self, code: int = 4000) -> None:
        """Close every gateway connection as a network failure would; sessions stay resumable."""
        for session in self.sessions.values():
            connection, session.connection = session.connection, None
            if connection is not None:
                await connection.socket.close(code=code)

    async def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """INVALID_SESSION (op 9) to every connected session; it must IDENTIFY again."""
        for session in list(self.sessions.values()):
            async with session.lock:
                await self._send(session, {"op": 9, "d": resumable, "s": None, "t": None})
            if not resumable:
                self.sessions.pop(session.id, None)

    async def wait_for_session(self, count: int = 1, within: float = 10) -> None:
        """Wait until `count` sessions have been established (READY) or resumed since start."""
        async with asyncio.timeout(within), self._session_ready:
            await self._session_ready.wait_for(lambda: self._established >= count)

    def ops(self, op: int) -> list[Json]:
        return [payload for payload in self.gateway_ops if payload.get("op") == op]

    # the gateway websocket

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(max_msg_size=0)
        await socket.prepare(request)
        self._sockets.add(socket)
        compress = request.query.get("compress") == "zlib-stream"
        connection = _Connection(socket, zlib.compressobj() if compress else None)
        try:
            await connection.send(
                {
                    "op": 10,
                    "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)},
                    "s": None,
                    "t": None,
                }
            )
            async for message in socket:
                if message.type is aiohttp.WSMsgType.TEXT:
                    await self._on_gateway_payload(connection, json.loads(message.data))
        finally:
            self._sockets.discard(socket)
            self._detach(connection)
        return socket

    def _detach(self, connection: _Connection) -> None:
        for session in self.sessions.values():
            if session.connection is connection:
                session.connection = None

    async def _on_gateway_payload(self, connection: _Connection, payload: Json) -> None:
        self.gateway_ops.append(payload)
        op, data = payload.get("op"), payload.get("d") or {}
        if op == 1:
            await connection.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(connection, data)
        elif op == 6:
            await self._resume(connection, data)

    async def _identify(self, connection: _Connection, data: Json) -> None:
        if data.get("token") != self.token:
            await connection.socket.close(code=4004, message=b"Authentication failed.")
            return
        for stale in [s for s in self.sessions.values() if s.connection is None]:
            self.sessions.pop(stale.id)  # abandoned by a client that identified anew
        session = _Session(id=secrets.token_hex(16), intents=int(data.get("intents", 0)))
        self.sessions[session.id] = session
        session.connection = connection
        await self._dispatch_to(session, "READY", self._ready_payload(session))
        for guild in self.guilds.values():
            await self._dispatch_to(session, "GUILD_CREATE", {**guild, "unavailable": False})
        await self._established_one()

    def _ready_payload(self, session: _Session) -> Json:
        return {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": guild_id, "unavailable": True} for guild_id in self.guilds],
            "session_id": session.id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "session_type": "normal",
        }

    async def _resume(self, connection: _Connection, data: Json) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.token:
            await connection.send({"op": 9, "d": False, "s": None, "t": None})
            return
        async with session.lock:
            missed = [p for p in session.backlog if p["s"] > int(data.get("seq") or 0)]
            session.connection = connection
            for payload in missed:
                await connection.send(payload)
            session.seq += 1
            await connection.send({"op": 0, "t": "RESUMED", "s": session.seq, "d": {}})
        await self._established_one()

    async def _established_one(self) -> None:
        async with self._session_ready:
            self._established += 1
            self._session_ready.notify_all()

    # REST

    def fail(
        self,
        method: str,
        path: str,
        *,
        status: int,
        code: int,
        message: str,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        extra: Json | None = None,
    ) -> None:
        """The next `times` requests matching `method` and the `path` regex get this error."""
        body = {"message": message, "code": code, **(extra or {})}
        self._failures.append(
            _Failure(method.upper(), re.compile(path), status, body, dict(headers or {}), times)
        )

    def rate_limit(
        self,
        method: str,
        path: str,
        *,
        retry_after: float = 1.0,
        times: int = 1,
        global_: bool = False,
    ) -> None:
        """The next `times` matching requests get Discord's 429, with `retry_after` and headers."""
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
        extra = {"retry_after": retry_after, "global": global_}
        self.fail(
            method,
            path,
            status=429,
            code=0,
            message="You are being rate limited.",
            times=times,
            headers=headers,
            extra=extra,
        )

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests with this method whose path matches the regex `path` in full."""
        pattern = re.compile(path)
        return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body = await request.read()
        payload = json.loads(body) if body and request.content_type == "application/json" else None
        self.requests.append(
            RecordedRequest(
                request.method, path, dict(request.query), payload, dict(request.headers)
            )
        )
        failure = self._take_failure(request.method, path)
        if failure is not None:
            return _json(failure.body, failure.status, failure.headers)
        return await self._route(request.method, path, payload, request.headers)

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        for failure in self._failures:
            if failure.method == method and failure.path.fullmatch(path):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    async def _route(
        self, method: str, path: str, payload: Any, headers: Mapping[str, str]
    ) -> web.StreamResponse:
        for route_method, pattern, handler_name, needs_bot in _ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                if needs_bot and headers.get("Authorization") != f"Bot {self.token}":
                    return _error(401, 0, "401: Unauthorized")
                handler = getattr(self, handler_name)
                result: web.StreamResponse = await handler(payload, **match.groupdict())
                return result
        return _error(404, 0, "404: Not Found")

    async def _get_me(self, payload: Any) -> web.StreamResponse:
        return _ok(self.bot_user)

    async def _get_application(self, payload: Any) -> web.StreamResponse:
        return _ok(
            {
                "id": self.application_id,
                "name": self.bot_user["username"],
                "icon": None,
                "description": "",
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": self.public_key_hex,
                "flags": 0,
                "team": None,
                "owner": self._user("owner", bot=False),
                "summary": "",
                "interactions_endpoint_url": None,
            }
        )

    async def _get_gateway_bot(self, payload: Any) -> web.StreamResponse:
        return _ok(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14400000,
                    "max_concurrency": 1,
                },
            }
        )

    async def _create_message(self, payload: Any, channel_id: str) -> web.StreamResponse:
        refused = self._channel_refusal(channel_id)
        if refused is not None:
            return refused
        invalid = _invalid_content(payload)
        if invalid is not None:
            return invalid
        return _ok(self._store_bot_message(channel_id, payload))

    def _store_bot_message(self, channel_id: str, payload: Json) -> Json:
        fields: Json = {"components": payload.get("components") or []}
        reference = payload.get("message_reference")
        if reference:
            fields["type"] = 19
            fields["message_reference"] = {"channel_id": channel_id, **reference}
            fields["referenced_message"] = self.messages.get(str(reference.get("message_id")))
        message = self.message(channel_id, self.bot_user, payload.get("content") or "", **fields)
        self.messages[message["id"]] = message
        return message

    def _channel_refusal(self, channel_id: str) -> web.StreamResponse | None:
        if channel_id not in self.channels:
            return _error(404, 10003, "Unknown Channel")
        if channel_id in self.forbidden_channels:
            return _error(403, 50001, "Missing Access")
        return None

    async def _edit_message(
        self, payload: Any, channel_id: str, message_id: str
    ) -> web.StreamResponse:
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            return self._channel_refusal(channel_id) or _error(404, 10008, "Unknown Message")
        invalid = _invalid_content(payload)
        if invalid is not None:
            return invalid
        message.update({k: v for k, v in payload.items() if k in {"content", "components"}})
        message["edited_timestamp"] = _iso_now()
        return _ok(message)

    async def _delete_message(
        self, payload: Any, channel_id: str, message_id: str
    ) -> web.StreamResponse:
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            return self._channel_refusal(channel_id) or _error(404, 10008, "Unknown Message")
        del self.messages[message_id]
        return web.Response(status=204)

    async def _add_reaction(
        self, payload: Any, channel_id: str, message_id: str, emoji: str
    ) -> web.StreamResponse:
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            return self._channel_refusal(channel_id) or _error(404, 10008, "Unknown Message")
        message.setdefault("reactions", []).append(
            {"emoji": {"id": None, "name": emoji}, "me": True}
        )
        return web.Response(status=204)

    async def _typing(self, payload: Any, channel_id: str) -> web.StreamResponse:
        return self._channel_refusal(channel_id) or web.Response(status=204)

    async def _list_commands(self, payload: Any, application_id: str) -> web.StreamResponse:
        return _ok(self.commands)

    async def _overwrite_commands(self, payload: Any, application_id: str) -> web.StreamResponse:
        if application_id != self.application_id:
            return _error(403, 50001, "Missing Access")
        self.commands = [
            {
                "id": self.new_id(),
                "application_id": application_id,
                "version": self.new_id(),
                "type": 1,
                "default_member_permissions": None,
                "dm_permission": True,
                **command,
            }
            for command in payload
        ]
        return _ok(self.commands)

    async def _overwrite_guild_commands(
        self, payload: Any, application_id: str, guild_id: str
    ) -> web.StreamResponse:
        return await self._overwrite_commands(payload, application_id)

    async def _interaction_callback(
        self, payload: Any, interaction_id: str, token: str
    ) -> web.StreamResponse:
        interaction = self.interactions.get(token)
        if interaction is None or interaction["id"] != interaction_id:
            return _error(404, 10062, "Unknown interaction")
        return web.Response(status=204)

    async def _follow_up(self, payload: Any, application_id: str, token: str) -> web.StreamResponse:
        interaction = self.interactions.get(token)
        if interaction is None or application_id != self.application_id:
            return _error(404, 10015, "Unknown Webhook")
        invalid = _invalid_content(payload)
        if invalid is not None:
            return invalid
        message = self._store_bot_message(interaction["channel_id"], payload)
        message["webhook_id"] = application_id
        message["interaction_metadata"] = {"id": interaction["id"], "type": interaction["type"]}
        return _ok(message)

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
            "context": 0 if "guild_id" in channel else 1,
        }
        if "guild_id" in channel:
            interaction["guild_id"] = channel["guild_id"]
            interaction["guild_locale"] = "en-US"
            interaction["member"] = {
                "user": user,
                "roles": [],
                "nick": None,
                "joined_at": _iso_now(),
                "permissions": "2248473465835073",
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        else:
            interaction["user"] = user
        return interaction


_ID = r"(?P<{}>\d+)"
_ROUTES: list[tuple[str, re.Pattern[str], str, bool]] = [
    (
        method,
        re.compile(
            path.format(
                channel_id=_ID.format("channel_id"),
                message_id=_ID.format("message_id"),
                application_id=_ID.format("application_id"),
                guild_id=_ID.format("guild_id"),
                interaction_id=_ID.format("interaction_id"),
                token=r"(?P<token>[^/]+)",  # noqa: S106 - a URL pattern, not a secret
                emoji=r"(?P<emoji>[^/]+)",
            )
        ),
        handler,
        needs_bot,
    )
    for method, path, handler, needs_bot in [
        ("GET", "/users/@me", "_get_me", True),
        ("GET", "/oauth2/applications/@me", "_get_application", True),
        ("GET", "/gateway/bot", "_get_gateway_bot", True),
        ("POST", "/channels/{channel_id}/messages", "_create_message", True),
        ("PATCH", "/channels/{channel_id}/messages/{message_id}", "_edit_message", True),
        ("DELETE", "/channels/{channel_id}/messages/{message_id}", "_delete_message", True),
        (
            "PUT",
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
            "_add_reaction",
            True,
        ),
        ("POST", "/channels/{channel_id}/typing", "_typing", True),
        ("GET", "/applications/{application_id}/commands", "_list_commands", True),
        ("PUT", "/applications/{application_id}/commands", "_overwrite_commands", True),
        (
            "PUT",
            "/applications/{application_id}/guilds/{guild_id}/commands",
            "_overwrite_guild_commands",
            True,
        ),
        ("POST", "/interactions/{interaction_id}/{token}/callback", "_interaction_callback", False),
        ("POST", "/webhooks/{application_id}/{token}", "_follow_up", False),
    ]
]


def _ok(payload: Any) -> web.Response:
    headers = {
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "49",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
        "X-RateLimit-Bucket": "emulated-bucket",
    }
    return _json(payload, 200, headers)


def _json(payload: Any, status: int, headers: Mapping[str, str] | None = None) -> web.Response:
    """Exactly `application/json`, no charset: discord.py compares the header verbatim."""
    body = json.dumps(payload).encode()
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status)


def _invalid_content(payload: Any) -> web.Response | None:
    if not isinstance(payload, dict):
        return _error(400, 50109, "The request body contains invalid JSON.")
    content = payload.get("content")
    if content is not None and len(content) > 2000:
        body = {
            "code": 50035,
            "message": "Invalid Form Body",
            "errors": {
                "content": {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_MAX_LENGTH",
                            "message": "Must be 2000 or fewer in length.",
                        }
                    ]
                }
            },
        }
        return _json(body, 400)
    if not content and not payload.get("components") and not payload.get("embeds"):
        return _error(400, 50006, "Cannot send an empty message")
    return None


def _visible(data: Json, intents: int) -> Json:
    """Without the MESSAGE_CONTENT intent, Discord blanks what other users wrote."""
    if intents & INTENT_MESSAGE_CONTENT or "content" not in data or "author" not in data:
        return data
    return {**data, "content": "", "attachments": [], "embeds": [], "components": []}


def _iso_now() -> str:
    return datetime.now(UTC).isoformat()
