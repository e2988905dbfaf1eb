"""Dead letters: kept in the database on both buses, listed, re-driven once, audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botgate.testing.telegram import TelegramEmulator
from gateway.app import Runtime
from gateway.bus.base import Message
from gateway.bus.topology import EVENTS_EXCHANGE
from tests.ops.support import botgate, call, config_file
from tests.support.pipeline import count_rows, eventually, make_settings, running

CHAT = 4242


def telegram_bot(telegram: TelegramEmulator) -> dict[str, Any]:
    table = {
        "token": telegram.token,
        "webhook_secret": "s3cret-Token_1",
        "api_base_url": telegram.api_base_url,
        "rate_per_chat": 1000,
    }
    return {"name": "helpdesk", "tools": ["help"], "telegram": table}


def action(text: str) -> dict[str, Any]:
    return {
        "type": "message.send",
        "platform": "telegram",
        "bot": "helpdesk",
        "channel_id": str(CHAT),
        "text": text,
        "format": "plain",
    }


async def dead_letters(runtime: Runtime, **query: str) -> list[dict[str, Any]]:
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    status, body = await call(runtime, "GET", f"/dead-letters{suffix}")
    assert status == 200, body
    letters: list[dict[str, Any]] = body["dead_letters"]
    return letters


async def test_a_permanent_telegram_refusal_is_kept_and_re_driven_once(
    backend: tuple[str, str], telegram: TelegramEmulator
) -> None:
    settings = make_settings(*backend, bots=[telegram_bot(telegram)])
    async with running(settings) as runtime:
        telegram.fail("sendMessage", 400, "Bad Request: chat not found", chat_id=CHAT)
        status, sent = await call(runtime, "POST", "/actions", body=action("your order shipped"))
        assert status == 202

        async def kept() -> bool:
            return len(await dead_letters(runtime)) == 1

        await eventually(kept)
        (letter,) = await dead_letters(runtime)
        assert letter["reason"] == "Telegram refused: Chat not found"
        assert (letter["error"], letter["attempts"], letter["status"]) == (
            "PermanentError",
            1,
            "dead",
        )
        assert letter["origin_queue"] == "botgate.actions.telegram.helpdesk"
        assert letter["message_id"] == sent["action_id"]
        status, shown = await call(runtime, "GET", f"/dead-letters/{letter['id']}")
        assert "traceparent" in shown["headers"]
        assert "x-botgate-reason" not in shown["headers"]
        assert '"your order shipped"' in shown["body"]
        assert telegram.sent(CHAT) == []

        # the cause is fixed (the injected refusal was for one call): re-drive, twice
        body = {"ids": [letter["id"]]}
        first = await call(runtime, "POST", "/dead-letters/redrive", body=body)
        await eventually(lambda: _redriven(runtime))
        second = await call(runtime, "POST", "/dead-letters/redrive", body=body)
        assert first == (202, {"queued": [letter["id"]], "skipped": []})
        assert second == (202, {"queued": [], "skipped": [letter["id"]]})
        await eventually(lambda: _has_sent(runtime, 1))
        assert [m.text for m in telegram.sent(CHAT)] == ["your order shipped"]

        status, trail = await call(runtime, "GET", "/audit?action=dead.redrive")
        assert [(e["actor"], e["outcome"], e["target_id"]) for e in trail["entries"]] == [
            ("admin", "skipped", letter["id"]),
            ("admin", "ok", letter["id"]),
        ]
        (again,) = await dead_letters(runtime)
        assert (again["status"], again["times_redriven"]) == ("redriven", 1)
        assert await count_rows(runtime, "messages") == 1  # the sent message, recorded once


async def _redriven(runtime: Runtime) -> bool:
    return [d["status"] for d in await dead_letters(runtime)] == ["redriven"]


async def _has_sent(runtime: Runtime, count: int) -> bool:
    return await count_rows(runtime, "messages") >= count


async def test_an_invalid_event_is_kept_across_a_restart_and_re_driving_it_again_fails_again(
    backend: tuple[str, str], tmp_path: Path
) -> None:
    """The embedded bus loses its queues with the process; the database keeps the letter."""
    settings = make_settings(*backend)
    bogus = Message(EVENTS_EXCHANGE, "generic.helpdesk.message.created", b"{}", "bogus-1")
    async with running(settings) as runtime:
        await runtime.bus.publish(bogus)
        await eventually(lambda: _count(runtime, 1))
    async with running(settings) as runtime:
        (letter,) = await dead_letters(runtime)
        assert letter["reason"].startswith("invalid event: type: Field required")
        assert letter["error"] == "PermanentError"
        assert letter["origin_queue"].startswith("botgate.core.")  # the event's shard

        config = config_file(tmp_path, *backend)
        listed = await botgate("dead", "list", "--json", config=config)
        assert listed.code == 0, listed.err
        assert letter["id"] in listed.out
        redriven = await botgate("dead", "redrive", "--all", "--max", "5", config=config)
        assert redriven.code == 0, redriven.err
        assert "queued 1 dead letter(s)" in redriven.out

        async def died_twice() -> bool:
            found = await dead_letters(runtime)
            return [(d["status"], d["times_dead"]) for d in found] == [("dead", 2)]

        await eventually(died_twice)  # it is still invalid: back in the store, one row
        assert await count_rows(runtime, "dead_letters") == 1


async def _count(runtime: Runtime, count: int) -> bool:
    return await count_rows(runtime, "dead_letters") == count


async def test_bad_input_to_dead_commands_is_one_line_and_changes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, "memory://")
    async with running(settings, serve_http=False):
        pass  # migrated
    config = config_file(tmp_path, database_url)
    cases = [
        (("dead", "show", "not-an-id"), "'not-an-id' is not a dead-letter id"),
        (("dead", "show", "0190e5a4-0000-7000-8000-000000000000"), "no dead letter"),
        (("dead", "redrive", "0190e5a4-0000-7000-8000-000000000000"), "no dead letter"),
        (("dead", "redrive", "x1"), "'x1' is not a dead-letter id"),
        (("dead", "redrive"), "or pass --all"),
    ]
    for args, expected in cases:
        ran = await botgate(*args, config=config)
        assert ran.code != 0, args
        assert expected in ran.err, (args, ran.err)
        assert "Traceback" not in ran.err
        [line] = ran.err.strip().splitlines()  # one line
        assert line.startswith("botgate: ")
    listed = await botgate("dead", "list", config=config)
    assert (listed.code, listed.out.strip()) == (0, "no dead letters")
