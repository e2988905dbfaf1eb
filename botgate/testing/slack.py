"""A local Slack for offline tests: the Web API, signed HTTP deliveries and Socket Mode.

slack-bolt and slack_sdk work against it through `api_url` (`AsyncWebClient(base_url=...)`).
The Web API serves auth.test, chat.postMessage, chat.postEphemeral, chat.update, chat.delete,
chat.startStream, chat.appendStream, chat.stopStream (a streamed reply in a thread),
reactions.add, users.info, conversations.info, conversations.history, conversations.replies,
views.open, views.push, views.update and apps.connections.open with Slack's `{"ok": ...}`
shapes and error codes; any other method answers `{"ok": false, "error": "unknown_method"}`
with "not emulated: <method>" in `response_metadata.messages`, and is recorded. The
`response_url`s it hands out are served: what a bot posts there shows in `sent()` (ephemeral
unless `response_type` is `in_channel`) and is recorded under the name `response_url`.

What users do is delivered as Slack delivers it: over Socket Mode when a client is connected
(`apps.connections.open`, then the websocket, acknowledgements collected), else to
`request_url` signed with the v0 signing secret (Events API JSON, slash commands and
interactivity as forms)::

    async with SlackEmulator() as slack:                # or the `slack_emulator` fixture
        slack.request_url = "http://127.0.0.1:3000/slack/events"   # not for Socket Mode
        await slack.inject_message("C0GENERAL", "hello")           # a `message` event
        reply = await slack.wait_for("C0GENERAL", "Hi")
        await slack.inject_button(reply, "Approve")                 # block_actions
        await slack.inject_command("C0GENERAL", "/weather", "London")
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from botgate.testing.base import ApiCall, Delivery, EmulatorServer, Malformed, post
from botgate.testing.base import DeliveryResult as DeliveryResult
from botgate.testing.faults import Clock, Fault
from botgate.testing.sent import Sent
from botgate.testing.slack_methods import ApiError, SlackWebApi, blocks, public_view

ChannelKind = Literal["channel", "private", "im", "mpim"]
SocketKind = Literal["events_api", "slash_commands", "interactive"]
Json = dict[str, Any]


@dataclass(kw_only=True)
class RecordedCall(ApiCall):
    """One Web API request (or response_url post) as the emulator received it."""

    token: str | None


@dataclass
class _Socket:
    ws: web.WebSocketResponse
    acks: dict[str, asyncio.Future[Json]] = field(default_factory=dict)


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` value: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


class SlackEmulator(SlackWebApi, EmulatorServer[RecordedCall]):
    """An async context manager serving a fake Slack on an ephemeral 127.0.0.1 port."""

    platform: ClassVar[str] = "slack"

    def __init__(
        self,
        signing_secret: str = "emulator-signing-secret",  # noqa: S107 - a fake for tests
        bot_token: str = "xoxb-emulator-token",  # noqa: S107
        app_token: str = "xapp-emulator-token",  # noqa: S107
        team_id: str = "T0EMULATE",
        bot_user_id: str = "U0BOTGATE",
        bot_id: str = "B0BOTGATE",
        app_id: str = "A0BOTGATE",
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(clock=clock)
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.request_url: str | None = None
        self.users: dict[str, Json] = {}
        self.channels: dict[str, Json] = {}
        self.messages: dict[tuple[str, str], Json] = {}
        self.ephemeral: list[Json] = []
        self.reactions: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
        self.views: dict[str, Json] = {}
        self.acks: list[Json] = []
        self.socket_connections = 0
        self._triggers: dict[str, str] = {}
        self._view_ids = itertools.count(1)
        self._hooks: dict[str, Json] = {}  # response_url hook -> channel, user, message ts
        self._tickets: set[str] = set()
        self._sockets: list[_Socket] = []
        self._socket_ready = asyncio.Event()
        self._ts_base = int(time.time())
        self._ts_seq = itertools.count(1)
        self.add_user(bot_user_id, "botgate", real_name="botgate", is_bot=True)
        self.add_user("U0ALICE", "alice", real_name="Alice")
        self.add_channel("C0GENERAL", "general")

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

    # read back

    def posted(self, channel: str) -> list[Json]:
        """Messages the bot posted in `channel`, oldest first, as Slack stores them."""
        return [
            message for (chan, _), message in sorted(self.messages.items())
            if chan == channel and message.get("bot_id") == self.bot_id
        ]

    def sent(self, chat: int | str) -> list[Sent]:
        return [s for s in self._all_sent() if s.chat == str(chat)]

    def _all_sent(self) -> Iterable[Sent]:
        found = [m for m in self.messages.values() if m.get("bot_id") == self.bot_id]
        for message in sorted([*found, *self.ephemeral], key=lambda m: float(m["ts"])):
            yield _as_sent(message)

    def open_views(self, user: str | None = None) -> list[Json]:
        """The modals the bot opened that are still open (for `user`, when given)."""
        return [
            v for v in self.views.values()
            if not v["closed"] and (user is None or v.get("user") in (None, user))
        ]

    async def wait_for_view(self, timeout: float = 5.0) -> Json:
        """Wait until the bot opened a modal; the newest open one."""
        __tracebackhide__ = True
        await self.wait_until(lambda: bool(self.open_views()), timeout, what="views.open")
        return self.open_views()[-1]

    # faults

    def fail(
        self, api_method: str, error: str, *, status: int = 200, times: int | None = None,
        seconds: float | None = None, until_cleared: bool = False,
    ) -> Fault:
        """Calls of `api_method` answer `{"ok": false, "error": error}` with `status`."""
        fault = Fault("error", api_method, status=status, body=error)
        return self.faults.add(fault, times=times, seconds=seconds, until_cleared=until_cleared)

    def _error(self, status: int, text: str) -> web.StreamResponse:
        error = text.split(":")[0] if status == 400 else "internal_error"
        return _answer(ApiError(error, status, text).body(), status)

    def _fault_answer(self, fault: Fault) -> web.StreamResponse:
        if fault.kind == "rate_limit":
            headers = {"Retry-After": str(max(1, round(fault.retry_after)))}
            return _answer({"ok": False, "error": "ratelimited"}, 429, headers)
        if fault.kind == "error":
            return _answer({"ok": False, "error": str(fault.body)}, fault.status)
        error = "service_unavailable" if fault.status == 503 else "internal_error"
        return _answer({"ok": False, "error": error}, fault.status)

    # the Web API

    async def _api(self, request: web.Request) -> web.StreamResponse:
        call = self._record(RecordedCall(
            name=request.match_info["method"], http_method=request.method, params={},
            headers=dict(request.headers), token=None,
        ))
        call.params = params = await _request_params(request)
        call.token = token = _bearer(request.headers.get("Authorization")) or params.pop(
            "token", None
        )
        faulted = await self._faulted(request, call)
        if faulted is not None:
            return faulted
        try:
            result = self._call(call.name, token, params)
        except ApiError as exc:
            call.outcome(exc.status, exc.detail or exc.error)
            return _answer(exc.body(), exc.status)
        call.outcome(200)
        return _answer({"ok": True, **result})

    def _call(self, api_method: str, token: str | None, params: Json) -> Json:
        handler = self._methods().get(api_method)
        if handler is None:
            raise ApiError("unknown_method", detail=f"not emulated: {api_method}")
        app_level = api_method == "apps.connections.open"
        if not token:
            raise ApiError("not_authed")
        if token.startswith("xapp-") != app_level:
            raise ApiError("not_allowed_token_type")
        expected = self.app_token if app_level else self.bot_token
        if not hmac.compare_digest(token.encode(), expected.encode()):
            raise ApiError("invalid_auth")
        try:
            return handler(params)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ApiError("invalid_arguments", detail=str(exc)) from None

    async def _response_url(self, request: web.Request) -> web.Response:
        call = self._record(RecordedCall(
            name="response_url", http_method="POST", params={}, headers=dict(request.headers),
            token=None,
        ))
        call.params = params = await _request_params(request)
        hook = self._hooks.get(request.match_info["hook"])
        if hook is not None:
            self._respond(hook, params)
        call.outcome(200)
        return web.Response(text="ok")

    def _respond(self, hook: Json, params: Json) -> None:
        """What Slack does with a response_url post or an acknowledgement's response."""
        channel, target = hook["channel"], (hook["channel"], hook.get("message_ts", ""))
        if _truthy(params.get("delete_original")):
            self.messages.pop(target, None)
        elif _truthy(params.get("replace_original")) and target in self.messages:
            self.messages[target].update(
                text=str(params.get("text") or ""), blocks=blocks(params.get("blocks"))
            )
        elif params.get("text") or params.get("blocks"):
            message = {**self.bot_message(params, self.new_ts()), "channel": channel}
            if params.get("response_type") == "in_channel":
                self.messages[(channel, message["ts"])] = message
            else:
                self.ephemeral.append({**message, "to": hook["user"]})

    def _connections_open(self, params: Json) -> Json:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"url": f"{self.ws_base_url}/link/?ticket={ticket}&app_id={self.app_id}"}

    # payloads, built as Slack builds them

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

    def _hook(self, kind: str, channel_id: str, user_id: str, message_ts: str = "") -> str:
        hook = uuid.uuid4().hex
        self._hooks[hook] = {"channel": channel_id, "user": user_id, "message_ts": message_ts}
        return f"{self.base_url}/{kind}/{hook}"

    def _trigger(self, user_id: str) -> str:
        trigger = f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"
        self._triggers[trigger] = user_id
        return trigger

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
            "response_url": self._hook("commands", channel_id, user_id),
            "trigger_id": self._trigger(user_id),
        }

    def block_action(
        self, action_id: str, *, user_id: str, channel_id: str, message_ts: str,
        value: str | None = None, thread_ts: str | None = None, block_id: str = "botgate_buttons",
        label: str | None = None,
    ) -> Json:
        """A `block_actions` payload: `user_id` clicked button `action_id` on a bot message."""
        message = dict(self.messages.get((channel_id, message_ts)) or {"ts": message_ts})
        message.pop("channel", None)
        if thread_ts:
            message["thread_ts"] = thread_ts
        action = {
            "action_id": action_id, "block_id": block_id, "type": "button",
            "text": {"type": "plain_text", "text": label or action_id, "emoji": True},
            "value": value if value is not None else action_id, "action_ts": f"{time.time():.6f}",
        }
        return {
            "type": "block_actions", "api_app_id": self.app_id, "token": "unused",
            "user": self._user_ref(user_id), "team": {"id": self.team_id, "domain": "emulator"},
            "container": {"type": "message", "message_ts": message_ts,
                          "channel_id": channel_id, "is_ephemeral": False},
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "trigger_id": self._trigger(user_id),
            "message": message, "actions": [action],
            "response_url": self._hook("actions", channel_id, user_id, message_ts),
        }

    def view_submission(self, view: Json, values: Mapping[str, str], user_id: str) -> Json:
        """A `view_submission` payload for `view` with its inputs filled from `values`
        (keyed by action_id or block_id)."""
        state: Json = {}
        for block in view.get("blocks", []):
            element = block.get("element") or {}
            if block.get("type") != "input" or "action_id" not in element:
                continue
            given = values.get(element["action_id"], values.get(block.get("block_id", "")))
            state.setdefault(block.get("block_id", ""), {})[element["action_id"]] = (
                _input_value(element, given)
            )
        submitted = {**public_view(view), "state": {"values": state}}
        return {
            "type": "view_submission", "team": {"id": self.team_id, "domain": "emulator"},
            "user": self._user_ref(user_id), "api_app_id": self.app_id, "token": "unused",
            "trigger_id": self._trigger(user_id), "view": submitted, "response_urls": [],
            "is_enterprise_install": False,
        }

    def message_event(self, channel: str, user: str, text: str, **fields: Any) -> Json:
        """A `message` event as Slack sends it for what `user` wrote in `channel`."""
        ts = self.new_ts()
        event: Json = {
            "type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
            "event_ts": ts, "team": self.team_id, "channel_type": _channel_type(channel),
            "blocks": [{"type": "rich_text", "block_id": uuid.uuid4().hex[:5], "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
            ]}],
            **fields,
        }
        return event

    # what users do, delivered as Slack delivers it

    async def inject_message(
        self, chat: str, text: str, *, user: str = "U0ALICE", thread_ts: str | None = None
    ) -> Delivery:
        """`user` writes `text` in channel `chat`: a `message` event (and an `app_mention`
        when it mentions the bot)."""
        fields = {"thread_ts": thread_ts} if thread_ts else {}
        event = self.message_event(chat, user, text, **fields)
        self.messages[(chat, event["ts"])] = {**event, "channel": chat}
        delivery = await self._deliver_event(event)
        if f"<@{self.bot_user_id}>" in text:
            mention = {**event, "type": "app_mention"}
            mention.pop("channel_type")
            await self._deliver_event(mention)
        return delivery

    async def inject_command(
        self, chat: str, command: str, text: str = "", *, user: str = "U0ALICE"
    ) -> Delivery:
        """`user` runs the slash command `command` in `chat`; the acknowledgement's response
        shows in `sent(chat)` as Slack shows it (ephemeral unless `in_channel`)."""
        form = self.command_form("/" + command.lstrip("/"), text, user_id=user, channel_id=chat)
        delivery = await self._deliver("slash_commands", dict(form))
        hook = self._hooks[form["response_url"].rsplit("/", 1)[-1]]
        self._ack_response(hook, delivery)
        return delivery

    async def inject_button(
        self, message: Sent | Json, button: str, *, user: str = "U0ALICE"
    ) -> Delivery:
        """`user` clicks the button labelled `button` (or with that action_id or value) on a
        message the bot posted: a `block_actions` payload."""
        __tracebackhide__ = True
        raw = message.raw if isinstance(message, Sent) else message
        block_id, element = _find_button(raw, button)
        payload = self.block_action(
            element["action_id"], user_id=user, channel_id=str(raw["channel"]),
            message_ts=str(raw["ts"]), value=element.get("value"), block_id=block_id,
            label=element.get("text", {}).get("text"),
        )
        return await self._deliver("interactive", payload)

    async def inject_edit(self, message: Delivery | Json, text: str) -> Delivery:
        """The user edits a message they wrote: a `message_changed` event."""
        original = message.payload.get("event", message.payload) if isinstance(
            message, Delivery) else message
        channel = str(original["channel"])
        previous = {k: v for k, v in original.items() if k not in {"channel", "event_ts"}}
        edited_ts = self.new_ts()
        changed = {**previous, "text": text, "edited": {"user": original["user"],
                                                        "ts": edited_ts}}
        self.messages[(channel, str(original["ts"]))] = {**changed, "channel": channel}
        event = {
            "type": "message", "subtype": "message_changed", "hidden": True,
            "channel": channel, "channel_type": _channel_type(channel), "ts": edited_ts,
            "event_ts": edited_ts, "message": changed, "previous_message": previous,
        }
        return await self._deliver_event(event)

    async def inject_view_submission(
        self, view: Json, values: Mapping[str, str], *, user: str = "U0ALICE"
    ) -> Delivery:
        """`user` submits an open modal with `values` (by action_id or block_id); the
        acknowledgement's `response_action` is applied (errors, update, clear; else the modal
        closes)."""
        delivery = await self._deliver("interactive", self.view_submission(view, values, user))
        self._after_submission(self.views[view["id"]], delivery)
        return delivery

    async def _deliver_event(self, event: Json) -> Delivery:
        return await self._deliver("events_api", self.event_callback(event))

    async def _deliver(self, kind: SocketKind, payload: Json) -> Delivery:
        """Over Socket Mode when a client is connected, else to `request_url`."""
        __tracebackhide__ = True
        if self.request_url is None or self._sockets:
            try:
                await self.wait_for_socket()
            except TimeoutError:
                raise AssertionError(
                    "slack emulator: no Socket Mode client connected within 5s and no "
                    "request_url set: start your SocketModeHandler, or set "
                    "slack_emulator.request_url to your app's /slack/events URL"
                ) from None
            return self._delivered(await self._socket_delivery(kind, payload))
        if kind == "events_api":
            result = await self.deliver_callback(self.request_url, payload)
        elif kind == "slash_commands":
            result = await self.send_command(self.request_url, payload)
        else:
            result = await self.send_interaction(self.request_url, payload)
        via = "events_api" if kind == "events_api" else kind
        return self._delivered(Delivery(via, payload, result))

    async def _socket_delivery(self, kind: SocketKind, payload: Json) -> Delivery:
        """An event is not waited for (an app acknowledges only the events it handles; the
        acknowledgement lands in `acks`); a command or interaction is, for the 3 seconds Slack
        gives it, since its acknowledgement may carry the answer."""
        acked = await self._push(kind, payload)
        if kind == "events_api":
            return Delivery("socket_mode", payload)
        try:
            ack = await asyncio.wait_for(acked, 3.0)
        except TimeoutError:
            return Delivery("socket_mode", payload)
        finally:
            await self._touch()
        return Delivery("socket_mode", payload, DeliveryResult(200, json.dumps(
            ack.get("payload") or {})))

    def _ack_response(self, hook: Json, delivery: Delivery) -> None:
        body = _answer_json(delivery)
        if body:
            self._respond(hook, body)

    def _after_submission(self, view: Json, delivery: Delivery) -> None:
        body = _answer_json(delivery)
        action = body.get("response_action")
        if action == "errors":
            view["errors"] = body.get("errors", {})
        elif action in {"update", "push"}:
            self.views[view["id"]] = {**self._view(body.get("view"), view), "user": view["user"]}
        elif action == "clear":
            for open_view in self.views.values():
                open_view["closed"] = True
        else:
            view["closed"] = True

    # signed HTTP deliveries

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
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": sign(signing_secret or self.signing_secret, stamp, body),
            **(extra_headers or {}),
        }
        result = await post(self._session(), url, body, headers)
        await self._touch()
        return result

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
                    self._acknowledged(socket, message.data)
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

    def _acknowledged(self, socket: _Socket, data: str) -> None:
        try:
            ack = json.loads(data)
        except ValueError:
            self.errors.append(f"Socket Mode: a message that is not JSON: {data[:200]!r}")
            return
        self.acks.append(ack)
        future = socket.acks.pop(str(ack.get("envelope_id")), None)
        if future is not None and not future.done():
            future.set_result(ack)

    async def wait_for_socket(self, within: float = 5.0) -> None:
        """Until a Socket Mode client is connected."""
        await asyncio.wait_for(self._socket_ready.wait(), within)

    async def socket_deliver(
        self, kind: SocketKind, payload: Json, *,
        retry_attempt: int = 0, retry_reason: str = "", within: float = 5.0,
    ) -> Json | None:
        """Push one envelope to the newest connection; the client's ack, or None without one."""
        await self.wait_for_socket(within)
        acked = await self._push(kind, payload, retry_attempt, retry_reason)
        try:
            return await asyncio.wait_for(acked, within)
        except TimeoutError:
            return None
        finally:
            await self._touch()

    async def _push(
        self, kind: SocketKind, payload: Json, retry_attempt: int = 0, retry_reason: str = ""
    ) -> asyncio.Future[Json]:
        """Send one envelope on the newest connection; a future of its acknowledgement."""
        socket = self._sockets[-1]
        envelope_id = str(uuid.uuid4())
        envelope: Json = {
            "envelope_id": envelope_id, "payload": payload, "type": kind,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        acked: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        socket.acks[envelope_id] = acked
        await socket.ws.send_json(envelope)
        return acked

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

    def _user_ref(self, user_id: str) -> Json:
        name = self._user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _channel_name(self, channel_id: str) -> str:
        if channel_id.startswith("D"):
            return "directmessage"
        return str(self.channels.get(channel_id, {}).get("name", channel_id.lower()))


def _as_sent(message: Json) -> Sent:
    buttons = tuple(
        str(element.get("text", {}).get("text", ""))
        for _, element in _buttons(message)
    )
    return Sent(
        chat=str(message["channel"]), id=str(message["ts"]), text=str(message.get("text", "")),
        buttons=buttons, ephemeral="to" in message, edited="edited" in message, raw=message,
    )


def _buttons(message: Json) -> list[tuple[str, Json]]:
    found: list[tuple[str, Json]] = []
    for block in message.get("blocks") or []:
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        found += [(str(block.get("block_id", "")), e) for e in elements
                  if isinstance(e, dict) and e.get("type") == "button"]
    return found


def _find_button(message: Json, button: str) -> tuple[str, Json]:
    __tracebackhide__ = True
    found = _buttons(message)
    for block_id, element in found:
        names = (element.get("text", {}).get("text"), element.get("action_id"),
                 element.get("value"))
        if button in names:
            return block_id, element
    labels = ", ".join(repr(e.get("text", {}).get("text")) for _, e in found) or "none"
    raise AssertionError(
        f"slack emulator: no button {button!r} on message {message.get('ts')}; "
        f"its buttons: {labels}"
    )


def _input_value(element: Json, given: str | None) -> Json:
    kind = element.get("type", "plain_text_input")
    if kind in {"static_select", "external_select"}:
        option = {"text": {"type": "plain_text", "text": given or ""}, "value": given or ""}
        return {"type": kind, "selected_option": option if given is not None else None}
    return {"type": kind, "value": given}


def _answer_json(delivery: Delivery) -> Json:
    if delivery.answer is None or not delivery.answer.body.strip():
        return {}
    try:
        body = delivery.answer.json()
    except ValueError:
        return {"text": delivery.answer.body}  # a plain-text acknowledgement
    return body if isinstance(body, dict) else {}


def _channel_type(channel_id: str) -> str:
    return {"D": "im", "G": "group"}.get(channel_id[:1], "channel")


def _kind(channel_id: str, channel_type: object) -> ChannelKind:
    by_type: dict[object, ChannelKind] = {"im": "im", "mpim": "mpim", "group": "private"}
    if channel_type in by_type:
        return by_type[channel_type]
    return "im" if channel_id.startswith("D") else "channel"


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "1"}


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


async def _request_params(request: web.Request) -> Json:
    params: Json = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise Malformed("invalid_json: the body is not JSON") from None
        if not isinstance(body, dict):
            raise Malformed("invalid_json: an object is expected")
        params.update(body)
    elif request.can_read_body:
        params.update((await request.post()).items())
    return params


def _answer(
    body: Json, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers)
