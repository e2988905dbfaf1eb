"""Recorded Discord payloads (tests/payloads/discord/*.json), varied with small builders."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

Json = dict[str, Any]
PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "discord"
BOT_ID = "1100000000000000001"
GUILD_ID = "1100000000000000010"
CHANNEL_ID = "1100000000000000100"
ALICE_ID = "1100000000000000042"


@cache
def _recorded(name: str) -> str:
    return (PAYLOADS / f"{name}.json").read_text(encoding="utf-8")


def load(name: str, **overrides: Any) -> Json:
    """A fresh copy of a recorded payload, with top-level fields replaced."""
    payload: Json = json.loads(_recorded(name))
    payload.update(copy.deepcopy(overrides))
    return payload


def message(content: str = "hello there", **overrides: Any) -> Json:
    return load("message_create", content=content, **overrides)


def in_dm(payload: Json) -> Json:
    """The same message, written in a DM: no guild, no member."""
    payload = {k: v for k, v in payload.items() if k not in {"guild_id", "member"}}
    payload["channel_type"] = 1
    return payload


def replying_to(payload: Json, original: Json) -> Json:
    return {
        **payload,
        "type": 19,
        "message_reference": {
            "type": 0,
            "message_id": original["id"],
            "channel_id": original["channel_id"],
        },
        "referenced_message": original,
    }


def with_attachment(payload: Json, filename: str, content_type: str, size: int = 2048) -> Json:
    attachment = {
        "id": "1309512345678901999",
        "filename": filename,
        "size": size,
        "url": f"https://cdn.discordapp.com/attachments/{payload['channel_id']}/1309512345678901999/{filename}",
        "proxy_url": f"https://media.discordapp.net/attachments/1/2/{filename}",
        "content_type": content_type,
    }
    return {**payload, "attachments": [attachment]}


def mentioning(payload: Json, user: Json) -> Json:
    return {**payload, "mentions": [*payload.get("mentions", []), user]}


def bot_user(bot_id: str = BOT_ID, username: str = "botgate") -> Json:
    return {
        "id": bot_id,
        "username": username,
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": True,
    }
