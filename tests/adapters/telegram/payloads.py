"""Recorded Telegram updates (tests/payloads/telegram/*.json), varied with small builders."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from adapters.base import InboundRequest
from adapters.telegram import SECRET_HEADER

PAYLOADS = Path(__file__).parents[2] / "payloads" / "telegram"
SECRET = "s3cret-Token_1"
Json = dict[str, Any]


@cache
def _recorded(name: str) -> str:
    return (PAYLOADS / f"{name}.json").read_text(encoding="utf-8")


def payload(name: str, update_id: int | None = None) -> Json:
    """A fresh copy of a recorded update, optionally with another update_id."""
    update: Json = json.loads(_recorded(name))
    if update_id is not None:
        update["update_id"] = update_id
    return update


def inner(update: Json) -> Json:
    """The update's one object (the message, callback query, ...)."""
    return next(value for key, value in update.items() if key != "update_id")


def with_text(update: Json, text: str, entities: list[Json] | None = None) -> Json:
    changed = copy.deepcopy(update)
    inner(changed)["text"] = text
    inner(changed).pop("entities", None)
    if entities:
        inner(changed)["entities"] = entities
    return changed


def request(
    body: Json | bytes, secret: str | None = SECRET, bot: str = "helpdesk"
) -> InboundRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {SECRET_HEADER.lower(): secret} if secret is not None else {}
    return InboundRequest(
        platform="telegram",
        bot=bot,
        method="POST",
        headers=headers,
        query={},
        body=raw,
        received_at=datetime.now(UTC),
    )
