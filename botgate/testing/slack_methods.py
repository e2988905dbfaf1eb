"""The Slack Web API methods the emulator serves, on the workspace it keeps (users, channels,
messages, ephemeral messages, views), refusing what Slack refuses with Slack's error codes."""

from __future__ import annotations

import itertools
import json
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

Json = dict[str, Any]


class ApiError(Exception):
    """Raised by a Web API method handler: becomes `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, status: int = 200, detail: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.detail = detail

    def body(self) -> Json:
        body: Json = {"ok": False, "error": self.error}
        if self.detail:
            body["response_metadata"] = {"messages": [f"[ERROR] {self.detail}"]}
        return body


class SlackWebApi:
    """The methods; `SlackEmulator` holds the state they work on."""

    team_id: str
    app_id: str
    bot_user_id: str
    bot_id: str
    users: dict[str, Json]
    channels: dict[str, Json]
    messages: dict[tuple[str, str], Json]
    ephemeral: list[Json]
    reactions: defaultdict[tuple[str, str], list[str]]
    views: dict[str, Json]
    _triggers: dict[str, str]  # trigger_id -> the user whose action made it
    _view_ids: itertools.count[int]

    def new_ts(self) -> str:
        raise NotImplementedError

    def _connections_open(self, params: Json) -> Json:
        raise NotImplementedError

    def _methods(self) -> dict[str, Callable[[Json], Json]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "chat.startStream": self._start_stream,
            "chat.appendStream": self._append_stream,
            "chat.stopStream": self._stop_stream,
            "chat.delete": self._delete,
            "reactions.add": self._react,
            "users.info": self._user_info,
            "conversations.info": self._conversation_info,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "apps.connections.open": self._connections_open,
        }

    def _auth_test(self, params: Json) -> Json:
        return {
            "url": "https://emulator.slack.com/", "team": "Emulator", "user": "botgate",
            "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    # messages

    def _postable(self, channel_id: object) -> str:
        channel = self.channels.get(str(channel_id or ""))
        if channel is None:
            raise ApiError("channel_not_found")
        if channel["is_archived"]:
            raise ApiError("is_archived")
        if not channel["is_member"]:
            raise ApiError("not_in_channel")
        return str(channel["id"])

    def bot_message(self, params: Json, ts: str) -> Json:
        """A message as Slack stores what the bot posted."""
        if not params.get("text") and not params.get("blocks") and not params.get("attachments"):
            raise ApiError("no_text")
        message: Json = {
            "type": "message", "user": self.bot_user_id, "bot_id": self.bot_id,
            "app_id": self.app_id, "team": self.team_id, "ts": ts,
            "text": str(params.get("text") or ""), "blocks": blocks(params.get("blocks")),
        }
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        return message

    def _post_message(self, params: Json) -> Json:
        channel = self._postable(params.get("channel"))
        message = self.bot_message(params, self.new_ts())
        message["channel"] = channel
        self.messages[(channel, message["ts"])] = message
        return {"channel": channel, "ts": message["ts"], "message": _public(message)}

    def _post_ephemeral(self, params: Json) -> Json:
        channel = self._postable(params.get("channel"))
        user = str(params.get("user") or "")
        if user not in self.users:
            raise ApiError("user_not_found")
        message = self.bot_message(params, self.new_ts())
        self.ephemeral.append({**message, "channel": channel, "to": user})
        return {"message_ts": message["ts"]}

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
        message.update(text=params.get("text", ""), blocks=blocks(params.get("blocks")))
        message["edited"] = {"user": self.bot_user_id, "ts": self.new_ts()}
        return {"channel": channel, "ts": ts, "text": message["text"],
                "message": _public(message)}

    # streamed messages (Slack's AI streaming: a reply in a thread, written while it grows)

    def _start_stream(self, params: Json) -> Json:
        if not params.get("thread_ts"):
            raise ApiError("invalid_arguments", detail="missing required field: thread_ts")
        text = str(params.get("markdown_text") or "")
        message = self.bot_message({"text": text or " ", "thread_ts": params["thread_ts"]},
                                   self.new_ts())
        channel = self._postable(params.get("channel"))
        message.update(channel=channel, text=text, streaming=True)
        self.messages[(channel, message["ts"])] = message
        return {"channel": channel, "ts": message["ts"]}

    def _streaming(self, params: Json) -> Json:
        _, _, message = self._own_message(params, "message_not_owned")
        if not message.get("streaming"):
            raise ApiError("message_not_in_streaming_state")
        return message

    def _append_stream(self, params: Json) -> Json:
        message = self._streaming(params)
        if not params.get("markdown_text"):
            raise ApiError("invalid_arguments", detail="missing required field: markdown_text")
        message["text"] += str(params["markdown_text"])
        return {"channel": message["channel"], "ts": message["ts"]}

    def _stop_stream(self, params: Json) -> Json:
        message = self._streaming(params)
        message["text"] += str(params.get("markdown_text") or "")
        message["streaming"] = False
        if params.get("blocks"):
            message["blocks"] = blocks(params["blocks"])
        return {"channel": message["channel"], "ts": message["ts"],
                "message": _public(message)}

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

    # users and conversations

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

    def _readable(self, params: Json) -> str:
        channel = self.channels.get(str(params.get("channel") or ""))
        if channel is None:
            raise ApiError("channel_not_found")
        if not channel["is_member"] and channel["is_private"]:
            raise ApiError("not_in_channel")
        return str(channel["id"])

    def _history(self, params: Json) -> Json:
        """Top-level messages and thread parents, newest first, paged by a cursor."""
        channel = self._readable(params)
        found = [
            _public(m) for (chan, ts), m in sorted(self.messages.items(), reverse=True)
            if chan == channel and m.get("thread_ts", ts) == ts
            and _in_window(ts, params)
        ]
        return _page(found, params)

    def _replies(self, params: Json) -> Json:
        """A thread: its parent, then the replies oldest first."""
        channel = self._readable(params)
        parent_ts = str(params.get("ts") or "")
        if (channel, parent_ts) not in self.messages:
            raise ApiError("thread_not_found")
        found = [
            _public(m) for (chan, ts), m in sorted(self.messages.items())
            if chan == channel and (ts == parent_ts or m.get("thread_ts") == parent_ts)
        ]
        return _page(found, params)

    # views (modals)

    def _views_open(self, params: Json) -> Json:
        trigger = str(params.get("trigger_id") or "")
        if trigger not in self._triggers:
            raise ApiError("invalid_trigger_id")
        view = self._view(params.get("view"))
        view["user"] = self._triggers.pop(trigger)  # a trigger opens one view
        self.views[view["id"]] = view
        return {"view": public_view(view)}

    def _views_update(self, params: Json) -> Json:
        current = self._find_view(params)
        if params.get("hash") and params["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        view = {**self._view(params.get("view"), current), "user": current.get("user")}
        self.views[view["id"]] = view
        return {"view": public_view(view)}

    def _find_view(self, params: Json) -> Json:
        if params.get("view_id"):
            view = self.views.get(str(params["view_id"]))
        else:
            external = params.get("external_id")
            view = next((v for v in self.views.values() if external and
                         v.get("external_id") == external), None)
        if view is None:
            raise ApiError("not_found")
        return view

    def _view(self, given: Any, current: Json | None = None) -> Json:
        view = json.loads(given) if isinstance(given, str) else given
        if not isinstance(view, dict) or view.get("type") not in {"modal", "home"}:
            raise ApiError("invalid_arguments", detail="view: a modal or home view is required")
        view_id = current["id"] if current else f"V{next(self._view_ids):010d}"
        return {
            "id": view_id, "team_id": self.team_id, "app_id": self.app_id,
            "bot_id": self.bot_id, "type": view["type"], "blocks": view.get("blocks", []),
            "title": view.get("title"), "submit": view.get("submit"),
            "close": view.get("close"), "callback_id": view.get("callback_id", ""),
            "private_metadata": view.get("private_metadata", ""),
            "external_id": view.get("external_id", ""), "state": {"values": {}},
            "hash": f"{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex[:8]}",
            "root_view_id": current["root_view_id"] if current else view_id,
            "previous_view_id": None, "clear_on_close": bool(view.get("clear_on_close")),
            "notify_on_close": bool(view.get("notify_on_close")), "closed": False,
        }


def blocks(value: object) -> list[Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return list(value) if isinstance(value, list) else []


def public_view(view: Json) -> Json:
    """A stored view as the Web API returns it."""
    return {k: v for k, v in view.items() if k not in {"closed", "user", "errors"}}


def _public(message: Json) -> Json:
    """A stored message as the Web API returns it (without the emulator's own keys)."""
    return {k: v for k, v in message.items() if k not in {"channel", "to", "streaming"}}


def _in_window(ts: str, params: Json) -> bool:
    oldest, latest = params.get("oldest"), params.get("latest")
    return (not oldest or float(ts) > float(oldest)) and (not latest or float(ts) < float(latest))


def _page(found: list[Json], params: Json) -> Json:
    limit = max(1, min(int(params.get("limit") or 100), 1000))
    start = int(params.get("cursor") or 0)
    page = found[start : start + limit]
    more = start + limit < len(found)
    return {
        "messages": page, "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }
