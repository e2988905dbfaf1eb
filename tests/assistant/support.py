"""A running gateway whose generic bot `helpdesk` has an assistant on the OpenAI emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select

from botgate.testing.openai import OpenAIEmulator
from gateway.app import Runtime
from gateway.assistant.passages import PassageSource
from store.models import Message
from tests.support.pipeline import GenericClient, eventually, generic_bot, make_settings, running


def assistant_table(model: OpenAIEmulator, **extra: Any) -> dict[str, Any]:
    return {
        "base_url": model.base_url,
        "model": model.model,
        "api_key": model.api_key,
        "timeout": "2s",
        **extra,
    }


def assistant_bot(model: OpenAIEmulator, *, tools: list[str] | None = None,
                  **extra: Any) -> dict[str, Any]:
    bot = generic_bot("helpdesk")
    bot["tools"] = tools if tools is not None else ["help", "remember"]
    bot["assistant"] = assistant_table(model, **extra)
    return bot


@asynccontextmanager
async def gateway(
    backend: tuple[str, str], model: OpenAIEmulator, *, bot: dict[str, Any] | None = None,
    passages: PassageSource | None = None, **sections: Any,
) -> AsyncIterator[tuple[Runtime, GenericClient]]:
    database, bus = backend
    settings = make_settings(database, bus, bots=[bot or assistant_bot(model)], **sections)
    async with running(settings, passages=passages) as runtime:
        client = GenericClient(runtime.http.url)
        try:
            yield runtime, client
        finally:
            await client.close()


async def answered(runtime: Runtime, count: int) -> None:
    """Wait until `count` answers of the bot are recorded (they reach the database after the
    platform took them, a moment after `?wait=1` returns)."""

    async def recorded() -> bool:
        async with runtime.db.transaction() as db:
            query = select(func.count()).where(Message.direction == "out")
            return int((await db.execute(query)).scalar_one()) >= count

    await eventually(recorded)


def texts(body: dict[str, Any]) -> list[str]:
    return [reply["text"] for reply in body["replies"]]
