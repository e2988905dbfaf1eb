"""The Discord REST routes the emulator serves: channel messages, reactions, typing,
application commands, interaction callbacks (with `?with_response=1` answered as Discord
answers it) and the interaction webhook (follow-ups, the original response), with Discord's
own JSON error bodies."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from botgate.testing.base import Call

Json = dict[str, Any]
Handler = Callable[..., Awaitable[web.StreamResponse]]
API_PREFIX = "/api/v10"
EPHEMERAL, LOADING = 1 << 6, 1 << 7
# Interaction callback types.
PONG, MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE, AUTOCOMPLETE, MODAL = 1, 4, 5, 6, 7, 8, 9


@dataclass(kw_only=True)
class RecordedRequest(Call):
    """One REST request as the emulator received it (path without the `/api/v10` prefix);
    `name` is the route, e.g. "POST /channels/{channel_id}/messages"."""

    method: str
    path: str
    query: Mapping[str, str]
    json: Any
    headers: Mapping[str, str]
    files: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Answer:
    """How the bot answered one interaction: the callback type, the original response."""

    type: int | None = None
    original_id: str | None = None


class DiscordRest:
    """The REST handlers; `DiscordEmulator` holds the state they work on."""

    token: str
    application_id: str
    bot_user: Json
    channels: dict[str, Json]
    messages: dict[str, Json]
    _nonces: dict[tuple[str, str], str]
    commands: list[Json]
    interactions: dict[str, Json]
    answers: dict[str, Answer]
    modals: list[Json]
    forbidden_channels: set[str]

    def new_id(self) -> str:
        raise NotImplementedError

    @property
    def public_key_hex(self) -> str:
        raise NotImplementedError

    @property
    def gateway_url(self) -> str:
        raise NotImplementedError

    def message(self, channel_id: str, author: Json, content: str, **fields: Any) -> Json:
        raise NotImplementedError

    def _user(self, username: str, *, bot: bool, user_id: str | None = None,
              global_name: str | None = None) -> Json:
        raise NotImplementedError

    # identity

    async def _get_me(self, call: RecordedRequest) -> web.StreamResponse:
        return ok(self.bot_user)

    async def _get_application(self, call: RecordedRequest) -> web.StreamResponse:
        return ok({
            "id": self.application_id, "name": self.bot_user["username"], "icon": None,
            "description": "", "rpc_origins": [], "bot_public": True,
            "bot_require_code_grant": False, "verify_key": self.public_key_hex, "flags": 0,
            "team": None, "owner": self._user("owner", bot=False), "summary": "",
            "interactions_endpoint_url": None,
        })

    async def _get_gateway_bot(self, call: RecordedRequest) -> web.StreamResponse:
        return ok({
            "url": self.gateway_url, "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14400000,
                                    "max_concurrency": 1},
        })

    # channel messages

    async def _create_message(self, call: RecordedRequest, channel_id: str) -> web.StreamResponse:
        refused = self._channel_refusal(channel_id) or invalid_content(call)
        if refused is not None:
            return refused
        payload = call.json or {}
        nonce = payload.get("nonce")
        # enforce_nonce: the same nonce again in the channel answers the message it created
        key = (channel_id, str(nonce))
        if nonce is not None and payload.get("enforce_nonce") and key in self._nonces:
            return ok(self.messages[self._nonces[key]])
        message = self._store_bot_message(channel_id, call)
        if nonce is not None:
            message["nonce"] = nonce
            self._nonces[key] = message["id"]
        return ok(message)

    def _store_bot_message(self, channel_id: str, call: RecordedRequest, **extra: Any) -> Json:
        payload = call.json or {}
        fields: Json = {
            "components": payload.get("components") or [],
            "embeds": payload.get("embeds") or [],
            "attachments": self._attachments(call),
            "flags": int(payload.get("flags") or 0),
            **extra,
        }
        reference = payload.get("message_reference")
        if reference:
            fields["type"] = 19
            fields["message_reference"] = {"channel_id": channel_id, **reference}
            fields["referenced_message"] = self.messages.get(str(reference.get("message_id")))
        message = self.message(channel_id, self.bot_user, payload.get("content") or "", **fields)
        self.messages[message["id"]] = message
        return message

    def _attachments(self, call: RecordedRequest) -> list[Json]:
        described = {str(a.get("id")): a for a in (call.json or {}).get("attachments") or []}
        found = []
        for index, (name, content) in enumerate(call.files):
            given = described.get(str(index), {})
            found.append({
                "id": self.new_id(), "filename": given.get("filename", name),
                "size": len(content), "url": f"https://cdn.discordapp.com/attachments/{name}",
                "proxy_url": f"https://media.discordapp.net/attachments/{name}",
                "content_type": "application/octet-stream",
            })
        return found

    def _channel_refusal(self, channel_id: str) -> web.Response | None:
        if channel_id not in self.channels:
            return error(404, 10003, "Unknown Channel")
        if channel_id in self.forbidden_channels:
            return error(403, 50001, "Missing Access")
        return None

    def _found(self, channel_id: str, message_id: str) -> Json | web.Response:
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            return self._channel_refusal(channel_id) or error(404, 10008, "Unknown Message")
        return message

    async def _edit_message(
        self, call: RecordedRequest, channel_id: str, message_id: str
    ) -> web.StreamResponse:
        message = self._found(channel_id, message_id)
        if isinstance(message, web.Response):
            return message
        if not isinstance(call.json, dict):
            return error(400, 50109, "The request body contains invalid JSON.")
        return ok(self._edited(message, call))

    def _edited(self, message: Json, call: RecordedRequest) -> Json:
        changes = {k: v for k, v in (call.json or {}).items()
                   if k in {"content", "components", "embeds", "flags"}}
        message.update(changes)
        if call.files:
            message["attachments"] = self._attachments(call)
        message["flags"] = int(message.get("flags") or 0) & ~LOADING
        message["edited_timestamp"] = iso_now()
        return message

    async def _delete_message(
        self, call: RecordedRequest, channel_id: str, message_id: str
    ) -> web.StreamResponse:
        message = self._found(channel_id, message_id)
        if isinstance(message, web.Response):
            return message
        del self.messages[message_id]
        return web.Response(status=204)

    async def _add_reaction(
        self, call: RecordedRequest, channel_id: str, message_id: str, emoji: str
    ) -> web.StreamResponse:
        message = self._found(channel_id, message_id)
        if isinstance(message, web.Response):
            return message
        message.setdefault("reactions", []).append(
            {"emoji": {"id": None, "name": emoji}, "me": True, "count": 1}
        )
        return web.Response(status=204)

    async def _typing(self, call: RecordedRequest, channel_id: str) -> web.StreamResponse:
        return self._channel_refusal(channel_id) or web.Response(status=204)

    # application commands

    async def _list_commands(self, call: RecordedRequest, application_id: str,
                             guild_id: str = "") -> web.StreamResponse:
        return ok([c for c in self.commands if c.get("guild_id", "") == guild_id])

    async def _overwrite_commands(
        self, call: RecordedRequest, application_id: str, guild_id: str = ""
    ) -> web.StreamResponse:
        if application_id != self.application_id:
            return error(403, 50001, "Missing Access")
        if not isinstance(call.json, list):
            return error(400, 50035, "Invalid Form Body")
        scope = {"guild_id": guild_id} if guild_id else {}
        kept = [c for c in self.commands if c.get("guild_id", "") != guild_id]
        added = [
            {"id": self.new_id(), "application_id": application_id, "version": self.new_id(),
             "type": 1, "default_member_permissions": None, "dm_permission": True,
             "description": "", "options": [], **command, **scope}
            for command in call.json
        ]
        self.commands = kept + added
        return ok(added)

    # interactions

    async def _interaction_callback(
        self, call: RecordedRequest, interaction_id: str, token: str
    ) -> web.StreamResponse:
        interaction = self.interactions.get(token)
        if interaction is None or interaction["id"] != interaction_id:
            return error(404, 10062, "Unknown interaction")
        if self.answers.setdefault(token, Answer()).type is not None:
            return error(400, 40060, "Interaction has already been acknowledged.")
        if not isinstance(call.json, dict) or not isinstance(call.json.get("type"), int):
            return error(400, 50035, "Invalid Form Body")
        resource = self.apply_callback(interaction, call)
        if call.query.get("with_response") not in {"1", "true", "True"}:
            return web.Response(status=204)
        return ok(self._callback_response(interaction, call.json["type"], resource))

    def apply_callback(self, interaction: Json, call: RecordedRequest) -> Json | None:
        """What Discord does with an interaction response; the message it made or changed."""
        body: Json = call.json
        kind, data = body["type"], body.get("data") or {}
        answer = self.answers.setdefault(interaction["token"], Answer())
        answer.type = kind
        if kind in {MESSAGE, DEFERRED_MESSAGE}:
            flags = int(data.get("flags") or 0) | (LOADING if kind == DEFERRED_MESSAGE else 0)
            inner = RecordedRequest(name=call.name, method=call.method, path=call.path,
                                    query={}, json={**data, "flags": flags}, headers={},
                                    files=call.files)
            message = self._interaction_message(interaction, inner)
            answer.original_id = message["id"]
            return message
        if kind == UPDATE and interaction.get("message"):
            target = self.messages.get(interaction["message"]["id"])
            if target is not None:
                inner = RecordedRequest(name=call.name, method=call.method, path=call.path,
                                        query={}, json=data, headers={}, files=call.files)
                answer.original_id = target["id"]
                return self._edited(target, inner)
        if kind == MODAL:
            self.modals.append({**data, "interaction": interaction["token"],
                                "user": _user_of(interaction)})
        return None

    def _interaction_message(self, interaction: Json, call: RecordedRequest) -> Json:
        metadata = {"id": interaction["id"], "type": interaction["type"],
                    "user": _user_of(interaction)}
        return self._store_bot_message(
            interaction["channel_id"], call, webhook_id=self.application_id,
            interaction_metadata=metadata, type=20 if interaction["type"] == 2 else 0,
        )

    def _callback_response(self, interaction: Json, kind: int, resource: Json | None) -> Json:
        flags = int((resource or {}).get("flags") or 0)
        response: Json = {
            "interaction": {
                "id": interaction["id"], "type": interaction["type"],
                "response_message_loading": kind == DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(flags & EPHEMERAL),
            },
        }
        if resource is not None:
            response["interaction"]["response_message_id"] = resource["id"]
            response["resource"] = {"type": kind, "message": resource}
        elif kind != PONG:
            response["resource"] = {"type": kind}
        return response

    def _interaction_of(self, application_id: str, token: str) -> Json | web.Response:
        interaction = self.interactions.get(token)
        if interaction is None or application_id != self.application_id:
            return error(404, 10015, "Unknown Webhook")
        return interaction

    async def _follow_up(
        self, call: RecordedRequest, application_id: str, token: str
    ) -> web.StreamResponse:
        interaction = self._interaction_of(application_id, token)
        if isinstance(interaction, web.Response):
            return interaction
        refused = invalid_content(call)
        if refused is not None:
            return refused
        message = self._interaction_message(interaction, call)
        if call.query.get("wait") in {"0", "false", "False"}:
            return web.Response(status=204)
        return ok(message)

    def _webhook_message(self, interaction: Json, message_id: str) -> Json | web.Response:
        if message_id == "@original":
            answer = self.answers.get(interaction["token"], Answer())
            message_id = answer.original_id or ""
        message = self.messages.get(message_id)
        if message is None:
            return error(404, 10008, "Unknown Message")
        return message

    async def _webhook_message_route(
        self, call: RecordedRequest, application_id: str, token: str, message_id: str
    ) -> web.StreamResponse:
        interaction = self._interaction_of(application_id, token)
        if isinstance(interaction, web.Response):
            return interaction
        message = self._webhook_message(interaction, message_id)
        if isinstance(message, web.Response):
            return message
        if call.method == "GET":
            return ok(message)
        if call.method == "DELETE":
            del self.messages[message["id"]]
            return web.Response(status=204)
        return ok(self._edited(message, call))


def _user_of(interaction: Json) -> Json:
    user: Json = interaction.get("user") or interaction.get("member", {}).get("user") or {}
    return user


_ID = r"(?P<{}>\d+)"
_PARTS = {
    "channel_id": _ID.format("channel_id"),
    "message_id": r"(?P<message_id>\d+|@original)",
    "application_id": _ID.format("application_id"),
    "guild_id": _ID.format("guild_id"),
    "interaction_id": _ID.format("interaction_id"),
    "token": r"(?P<token>[^/]+)",  # a URL pattern, not a secret
    "emoji": r"(?P<emoji>[^/]+)",
}
# (method, path template, handler name, needs the bot token)
_TABLE = [
    ("GET", "/users/@me", "_get_me", True),
    ("GET", "/oauth2/applications/@me", "_get_application", True),
    ("GET", "/applications/@me", "_get_application", True),
    ("GET", "/gateway/bot", "_get_gateway_bot", True),
    ("POST", "/channels/{channel_id}/messages", "_create_message", True),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}", "_edit_message", True),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}", "_delete_message", True),
    ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
     "_add_reaction", True),
    ("POST", "/channels/{channel_id}/typing", "_typing", True),
    ("GET", "/applications/{application_id}/commands", "_list_commands", True),
    ("PUT", "/applications/{application_id}/commands", "_overwrite_commands", True),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", "_list_commands", True),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands",
     "_overwrite_commands", True),
    ("POST", "/interactions/{interaction_id}/{token}/callback", "_interaction_callback", False),
    ("POST", "/webhooks/{application_id}/{token}", "_follow_up", False),
    ("GET", "/webhooks/{application_id}/{token}/messages/{message_id}",
     "_webhook_message_route", False),
    ("PATCH", "/webhooks/{application_id}/{token}/messages/{message_id}",
     "_webhook_message_route", False),
    ("DELETE", "/webhooks/{application_id}/{token}/messages/{message_id}",
     "_webhook_message_route", False),
]
ROUTES: list[tuple[str, str, re.Pattern[str], str, bool]] = [
    (method, template, re.compile(template.format(**_PARTS)), handler, needs_bot)
    for method, template, handler, needs_bot in _TABLE
]


def route_of(method: str, path: str) -> tuple[str, str, dict[str, str], bool]:
    """(route name, handler name, path ids, needs the bot token); the handler is "" for a
    route the emulator does not serve."""
    for route_method, template, pattern, handler, needs_bot in ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return f"{method} {template}", handler, match.groupdict(), needs_bot
    return f"{method} {path}", "", {}, False


def ok(payload: Any) -> web.Response:
    headers = {
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "49",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
        "X-RateLimit-Bucket": "emulated-bucket",
    }
    return as_json(payload, 200, headers)


def as_json(payload: Any, status: int, headers: Mapping[str, str] | None = None) -> web.Response:
    """Exactly `application/json`, no charset: discord.py compares the header verbatim."""
    body = json.dumps(payload).encode()
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")


def error(status: int, code: int, message: str) -> web.Response:
    return as_json({"message": message, "code": code}, status)


def invalid_content(call: RecordedRequest) -> web.Response | None:
    payload = call.json
    if not isinstance(payload, dict):
        return error(400, 50109, "The request body contains invalid JSON.")
    content = payload.get("content")
    if content is not None and len(content) > 2000:
        body = {
            "code": 50035, "message": "Invalid Form Body",
            "errors": {"content": {"_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
            ]}},
        }
        return as_json(body, 400)
    if not (content or payload.get("components") or payload.get("embeds") or call.files
            or payload.get("poll") or payload.get("sticker_ids")):
        return error(400, 50006, "Cannot send an empty message")
    return None


def iso_now() -> str:
    return datetime.now(UTC).isoformat()
