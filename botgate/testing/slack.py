"""A local Slack for offline tests: the Web API, signed deliveries, and a Socket Mode websocket.

The real `slack_sdk` clients work against it through `base_url`. It serves `auth.test`,
`chat.postMessage`, `chat.update`, `chat.delete`, `reactions.add`, `users.info`,
`conversations.info` and `apps.connections.open` with Slack's own `{"ok": ...}` shapes and
errors (`channel_not_found`, `not_in_channel`, `is_archived`, `message_not_found`, ...), answers
429 with `Retry-After` when told to, and records every request. It delivers Events API
callbacks, slash commands and block actions to a gateway URL, signed with the v0 signing
secret exactly as Slack signs them (with Slack-style retries on request), and pushes the same
payloads as Socket Mode envelopes over its websocket, collecting the acknowledgements. The
`response_url`s it hands out are served too, and what a bot posts there is recorded under the
API method name `response_url`.

Usage::

    from slack_sdk.web.async_client import AsyncWebClient
    from botgate.testing.slack import SlackEmulator

    async with SlackEmulator(signing_secret="s3cret") as slack:
        slack.add_channel("C024BE91L", name="support")
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        await client.chat_postMessage(channel="C024BE91L", text="hello")
        assert slack.calls("chat.postMessage")[0].params["text"] == "hello"
        slack.rate_limit("chat.postMessage", retry_after=1)  # the next call gets a 429

        url = "http://127.0.0.1:8080/webhooks/slack/helpdesk"
        answer = await slack.deliver_event(url, {"type": "message", "channel": "C024BE91L",
                                                 "channel_type": "channel", "user": "U1",
                                                 "text": "hi", "ts": slack.new_ts()})
        assert answer.status == 200
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from botgate.testing.base import DeliveryResult as DeliveryResult
from botgate.testing.base import EmulatorServer, post

ChannelKind = Literal["channel", "private", "im", "mpim"]
Json = dict[str, Any]


@dataclass(frozen=True)
class RecordedCall:
    """One Web API request as the emulator received it."""

    http_method: str
    api_method: str
    params: Json
    headers: Mapping[str, str]
    token: str | None


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int | None = None


class ApiError(Exception):
    """Raised by a Web API method handler: becomes `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, status: int = 200) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


@dataclass
class _Socket:
    ws: web.WebSocketResponse
    acks: dict[str, asyncio.Future[Json]] = field(default_factory=dict)


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` value: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


class SlackEmulator(EmulatorServer[RecordedCall]):
    """An async context manager serving a fake Slack on an ephemeral 127.0.0.1 port."""

    def __init__(
        self,
        signing_secret: str = "emulator-signing-secret",  # noqa: S107 - a fake for tests
        bot_token: str = "xoxb-emulator-token",  # noqa: S107
        app_token: str = "xapp-emulator-token",  # noqa: S107
        team_id: str = "T0EMULATE",
        bot_user_id: str = "U0BOTGATE",
        bot_id: str = "B0BOTGATE",
        app_id: str = "A0BOTGATE",
    ) -> None:
        super().__init__()
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.users: dict[str, Json] = {}
        self.channels: dict[str, Json] = {}
        self.messages: dict[tuple[str, str], Json] = {}
        self.reactions: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.acks: list[Json] = []
        self.socket_connections = 0
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._tickets: set[str] = set()
        self._sockets: list[_Socket] = []
        self._socket_ready = asyncio.Event()
        self._ts_base = int(time.time())
        self._ts_seq = itertools.count(1)
        self.add_user(bot_user_id, "botgate", real_name="botgate", is_bot=True)

    # lifecycle

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_route("*", "/api/{method}", self._api)
        router.add_get("/link/", self._socket)
        router.add_post("/commands/{hook}", self._response_url)
        router.add_post("/actions/{hook}", self._response_url)

    async def _stopping(self) -> None:
        for socket in list(self._sockets):
            await socket.ws.close()

    @property
    def api_url(self) -> str:
        """What `AsyncWebClient(base_url=...)` and `[bots.slack] api_base_url` take."""
        return f"{self.base_url}/api/"

    # the workspace

    def add_user(
        self, user_id: str, name: str, *, real_name: str | None = None, is_bot: bool = False,
        locale: str = "en-US", display_name: str = "",
    ) -> Json:
        """A workspace member; `display_name` is empty until the person sets one, as in Slack."""
        display = real_name or name
        self.users[user_id] = {
            "id": user_id, "team_id": self.team_id, "name": name, "deleted": False,
            "real_name": display, "tz": "Europe/London", "locale": locale, "is_bot": is_bot,
            "profile": {"display_name": display_name, "real_name": display,
                        "team": self.team_id},
        }
        return self.users[user_id]

    def add_channel(
        self, channel_id: str, name: str | None = None, *, kind: ChannelKind = "channel",
        is_member: bool = True, is_archived: bool = False,
    ) -> Json:
        self.channels[channel_id] = {
            "id": channel_id, "name": name or channel_id.lower(), "is_channel": kind == "channel",
            "is_group": kind == "private", "is_im": kind == "im", "is_mpim": kind == "mpim",
            "is_private": kind != "channel", "is_archived": is_archived, "is_member": is_member,
            "created": self._ts_base, "context_team_id": self.team_id,
        }
        return self.channels[channel_id]

    def new_ts(self) -> str:
        """A fresh, increasing Slack message timestamp."""
        return f"{self._ts_base}.{next(self._ts_seq):06d}"

    def calls(self, api_method: str) -> list[RecordedCall]:
        return [call for call in self.requests if call.api_method == api_method]

    def posted(self, channel: str) -> list[Json]:
        """Messages the bot posted in `channel`, oldest first, as Slack stores them."""
        return [msg for (chan, _), msg in sorted(self.messages.items()) if chan == channel]

    # failure injection

    def fail(self, api_method: str, error: str, *, status: int = 200, times: int = 1) -> None:
        """The next `times` calls of `api_method` answer `{"ok": false, "error": error}`."""
        self._failures[api_method].extend(_Failure(error, status) for _ in range(times))

    def rate_limit(self, api_method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls of `api_method` answer 429 with `Retry-After`."""
        failure = _Failure("ratelimited", 429, retry_after)
        self._failures[api_method].extend(failure for _ in range(times))

    # the Web API

    async def _api(self, request: web.Request) -> web.Response:
        api_method = request.match_info["method"]
        params = await _request_params(request)
        token = _bearer(request.headers.get("Authorization")) or params.pop("token", None)
        self.requests.append(
            RecordedCall(request.method, api_method, params, dict(request.headers), token)
        )
        failure = self._next_failure(api_method)
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            return _answer({"ok": False, "error": failure.error}, failure.status, headers)
        try:
            return _answer({"ok": True, **self._call(api_method, token, params)})
        except ApiError as exc:
            return _answer({"ok": False, "error": exc.error}, exc.status)

    async def _response_url(self, request: web.Request) -> web.Response:
        params = await _request_params(request)
        headers = dict(request.headers)
        self.requests.append(RecordedCall("POST", "response_url", params, headers, None))
        return web.Response(text="ok")

    def _next_failure(self, api_method: str) -> _Failure | None:
        queue = self._failures.get(api_method)
        return queue.popleft() if queue else None

    def _call(self, api_method: str, token: str | None, params: Json) -> Json:
        handler = self._handlers().get(api_method)
        if handler is None:
            raise ApiError("unknown_method", 404)
        app_level = api_method == "apps.connections.open"
        if not token:
            raise ApiError("not_authed")
        if token.startswith("xapp-") != app_level:
            raise ApiError("not_allowed_token_type")
        if token != (self.app_token if app_level else self.bot_token):
            raise ApiError("invalid_auth")
        return handler(params)

    def _handlers(self) -> dict[str, Callable[[Json], Json]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "reactions.add": self._react,
            "users.info": self._user_info,
            "conversations.info": self._conversation_info,
            "apps.connections.open": self._connections_open,
        }

    def _auth_test(self, params: Json) -> Json:
        return {
            "url": "https://emulator.slack.com/", "team": "Emulator", "user": "botgate",
            "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _postable(self, channel_id: object) -> str:
        channel = self.channels.get(str(channel_id or ""))
        if channel is None:
            raise ApiError("channel_not_found")
        if channel["is_archived"]:
            raise ApiError("is_archived")
        if not channel["is_member"]:
            raise ApiError("not_in_channel")
        return str(channel["id"])

    def _post_message(self, params: Json) -> Json:
        channel = self._postable(params.get("channel"))
        if not params.get("text") and not params.get("blocks"):
            raise ApiError("no_text")
        ts = self.new_ts()
        message = {
            "type": "message", "user": self.bot_user_id, "bot_id": self.bot_id,
            "app_id": self.app_id, "team": self.team_id, "ts": ts, "text": params.get("text", ""),
            "blocks": _blocks(params.get("blocks")),
        }
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        self.messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": message}

    def _own_message(self, params: Json, refusal: str) -> tuple[str, str, Json]:
        channel = self._postable(params.get("channel"))
        ts = str(params.get("ts") or "")
        message = self.messages.get((channel, ts))
        if message is None:
            raise ApiError("message_not_found")
        if message.get("bot_id") != self.bot_id:
            raise ApiError(refusal)
        return channel, ts, message

    def _update(self, params: Json) -> Json:
        channel, ts, message = self._own_message(params, "cant_update_message")
        message.update(text=params.get("text", ""), blocks=_blocks(params.get("blocks")))
        message["edited"] = {"user": self.bot_user_id, "ts": self.new_ts()}
        return {"channel": channel, "ts": ts, "text": message["text"], "message": message}

    def _delete(self, params: Json) -> Json:
        channel, ts, _ = self._own_message(params, "cant_delete_message")
        del self.messages[(channel, ts)]
        return {"channel": channel, "ts": ts}

    def _react(self, params: Json) -> Json:
        channel = self._postable(params.get("channel"))
        ts, name = str(params.get("timestamp") or ""), str(params.get("name") or "")
        if not name or ":" in name or " " in name:
            raise ApiError("invalid_name")
        if (channel, ts) not in self.messages:
            raise ApiError("message_not_found")
        if name in self.reactions[(channel, ts)]:
            raise ApiError("already_reacted")
        self.reactions[(channel, ts)].append(name)
        return {}

    def _user_info(self, params: Json) -> Json:
        user = self.users.get(str(params.get("user") or ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user}

    def _conversation_info(self, params: Json) -> Json:
        channel = self.channels.get(str(params.get("channel") or ""))
        if channel is None:
            raise ApiError("channel_not_found")
        return {"channel": channel}

    def _connections_open(self, params: Json) -> Json:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"url": f"{self.ws_base_url}/link/?ticket={ticket}&app_id={self.app_id}"}

    # signed HTTP deliveries

    def event_callback(self, event: Json, event_id: str | None = None) -> Json:
        """The Events API envelope Slack wraps around `event`."""
        self._learn(event)
        return {
            "token": "verification-token-unused", "team_id": self.team_id,
            "api_app_id": self.app_id, "event": event, "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()), "event_context": uuid.uuid4().hex,
            "authorizations": [{
                "enterprise_id": None, "team_id": self.team_id, "user_id": self.bot_user_id,
                "is_bot": True, "is_enterprise_install": False,
            }],
            "is_ext_shared_channel": False,
        }

    def command_form(
        self, command: str, text: str, *, user_id: str, channel_id: str,
        user_name: str | None = None, channel_name: str | None = None,
    ) -> dict[str, str]:
        """The form fields of a slash command invocation."""
        return {
            "token": "verification-token-unused", "team_id": self.team_id,
            "team_domain": "emulator", "channel_id": channel_id,
            "channel_name": channel_name or self._channel_name(channel_id),
            "user_id": user_id, "user_name": user_name or self._user_name(user_id),
            "command": command, "text": text, "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": f"{self.base_url}/commands/{uuid.uuid4().hex}",
            "trigger_id": _trigger_id(),
        }

    def block_action(
        self, action_id: str, *, user_id: str, channel_id: str, message_ts: str,
        value: str | None = None, thread_ts: str | None = None,
    ) -> Json:
        """A `block_actions` payload: `user_id` clicked button `action_id` on a bot message."""
        message = dict(self.messages.get((channel_id, message_ts)) or {"ts": message_ts})
        if thread_ts:
            message["thread_ts"] = thread_ts
        action = {
            "action_id": action_id, "block_id": "botgate_buttons", "type": "button",
            "text": {"type": "plain_text", "text": action_id, "emoji": True},
            "value": value if value is not None else action_id, "action_ts": f"{time.time():.6f}",
        }
        return {
            "type": "block_actions", "api_app_id": self.app_id, "token": "unused",
            "user": {"id": user_id, "username": self._user_name(user_id),
                     "name": self._user_name(user_id), "team_id": self.team_id},
            "team": {"id": self.team_id, "domain": "emulator"},
            "container": {"type": "message", "message_ts": message_ts,
                          "channel_id": channel_id, "is_ephemeral": False},
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "trigger_id": _trigger_id(),
            "message": message, "actions": [action],
            "response_url": f"{self.base_url}/actions/{uuid.uuid4().hex}",
        }

    async def deliver_event(
        self, url: str, event: Json, *, event_id: str | None = None, retries: int = 0,
        retry_reason: str = "http_timeout",
    ) -> DeliveryResult:
        """POST `event` wrapped in an `event_callback`, then `retries` Slack-style re-deliveries
        of the same `event_id`; returns the last answer."""
        envelope = self.event_callback(event, event_id)
        return await self.deliver_callback(
            url, envelope, retries=retries, retry_reason=retry_reason
        )

    async def deliver_callback(
        self, url: str, envelope: Json, *, retries: int = 0, retry_reason: str = "http_timeout",
    ) -> DeliveryResult:
        body = json.dumps(envelope).encode()
        result = await self.post_signed(url, body, "application/json")
        for attempt in range(1, retries + 1):
            retry = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": retry_reason}
            result = await self.post_signed(url, body, "application/json", retry)
        return result

    async def send_command(self, url: str, form: Mapping[str, str]) -> DeliveryResult:
        body = urlencode(form).encode()
        return await self.post_signed(url, body, "application/x-www-form-urlencoded")

    async def send_interaction(self, url: str, payload: Json) -> DeliveryResult:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post_signed(url, body, "application/x-www-form-urlencoded")

    async def post_signed(
        self, url: str, body: bytes, content_type: str,
        extra_headers: Mapping[str, str] | None = None, *, timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> DeliveryResult:
        """POST `body` signed as Slack signs it (override `timestamp` / `signing_secret` to
        produce stale or forged requests)."""
        http = self._session()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": sign(signing_secret or self.signing_secret, stamp, body),
            **(extra_headers or {}),
        }
        return await post(http, url, body, headers)

    # Socket Mode

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            raise web.HTTPUnauthorized(text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        socket = _Socket(ws)
        self._sockets.append(socket)
        self.socket_connections += 1
        await ws.send_json(self._hello())
        self._socket_ready.set()
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._acknowledged(socket, json.loads(message.data))
        finally:
            self._sockets.remove(socket)
            if not self._sockets:
                self._socket_ready.clear()
        return ws

    def _hello(self) -> Json:
        return {
            "type": "hello", "num_connections": len(self._sockets),
            "debug_info": {"host": "applink-emulator", "build_number": 1,
                           "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }

    def _acknowledged(self, socket: _Socket, ack: Json) -> None:
        self.acks.append(ack)
        future = socket.acks.pop(str(ack.get("envelope_id")), None)
        if future is not None and not future.done():
            future.set_result(ack)

    async def wait_for_socket(self, within: float = 5.0) -> None:
        """Until a Socket Mode client is connected."""
        await asyncio.wait_for(self._socket_ready.wait(), within)

    async def socket_deliver(
        self, kind: Literal["events_api", "slash_commands", "interactive"], payload: Json, *,
        retry_attempt: int = 0, retry_reason: str = "", within: float = 5.0,
    ) -> Json | None:
        """Push one envelope to the newest connection; the client's ack, or None without one."""
        await self.wait_for_socket(within)
        socket = self._sockets[-1]
        envelope_id = str(uuid.uuid4())
        envelope: Json = {
            "envelope_id": envelope_id, "payload": payload, "type": kind,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        socket.acks[envelope_id] = future
        await socket.ws.send_json(envelope)
        try:
            return await asyncio.wait_for(future, within)
        except TimeoutError:
            socket.acks.pop(envelope_id, None)
            return None

    async def socket_event(self, event: Json, **kwargs: Any) -> Json | None:
        return await self.socket_deliver("events_api", self.event_callback(event), **kwargs)

    async def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the connected clients to reconnect, as Slack does before rotating a host."""
        message = {"type": "disconnect", "reason": reason,
                   "debug_info": {"host": "applink-emulator"}}
        for socket in list(self._sockets):
            await socket.ws.send_json(message)

    # helpers

    def _learn(self, event: Json) -> None:
        """Slack only sends events from conversations the bot is in: make them known."""
        channel = event.get("channel") or (event.get("item") or {}).get("channel")
        if isinstance(channel, str) and channel not in self.channels:
            self.add_channel(channel, kind=_kind(channel, event.get("channel_type")))
        user = event.get("user")
        if isinstance(user, str) and user not in self.users:
            self.add_user(user, user.lower())

    def _user_name(self, user_id: str) -> str:
        return str(self.users.get(user_id, {}).get("name", user_id.lower()))

    def _channel_name(self, channel_id: str) -> str:
        if channel_id.startswith("D"):
            return "directmessage"
        return str(self.channels.get(channel_id, {}).get("name", channel_id.lower()))


def _kind(channel_id: str, channel_type: object) -> ChannelKind:
    by_type: dict[object, ChannelKind] = {"im": "im", "mpim": "mpim", "group": "private"}
    if channel_type in by_type:
        return by_type[channel_type]
    return "im" if channel_id.startswith("D") else "channel"


def _trigger_id() -> str:
    """A fresh trigger id in Slack's shape."""
    return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"


def _blocks(value: object) -> list[Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return list(value) if isinstance(value, list) else []


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


async def _request_params(request: web.Request) -> Json:
    params: Json = dict(request.query)
    if request.content_type == "application/json":
        params.update(await request.json())
    elif request.can_read_body:
        params.update((await request.post()).items())
    return params


def _answer(
    body: Json, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers)
