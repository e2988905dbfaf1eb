"""The assistant's streaming, measured: `botgate serve` as a subprocess with a Telegram bot on
the Telegram emulator and its assistant on the OpenAI emulator (both in this process).

- first visible text: webhook in -> the first draft (private chat) or the first sendMessage
  (group) at the emulated Telegram, with the model writing a token every `--per-token`
  seconds; p50/max over `--rounds` questions asked one after the other;
- concurrency: `--conversations` private chats ask at once, the model takes `--seconds` per
  answer; every answer must arrive complete; the service's peak RSS and CPU seconds.

    python -m benchmarks.assistant [--database-url ... --bus-url ...] [--conversations 100]
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import psutil

from benchmarks.report import percentile
from benchmarks.service import ServiceProcess, fresh_backends, service_tables
from botgate.testing.openai import OpenAIEmulator
from botgate.testing.telegram import TelegramEmulator

SECRET = "bench-telegram-secret"  # noqa: S105 (the emulator's webhook secret)
GROUP = -1001234567890
WORDS = 100  # tokens of each answer


def write_config(path: Path, database: str, bus: str, telegram: TelegramEmulator,
                 model: OpenAIEmulator, rate_per_bot: float) -> Path:
    path.write_text(
        f"""{service_tables(database, bus)}
[[bots]]
name = "helpdesk"
tools = ["help"]
[bots.assistant]
base_url = "{model.base_url}"
model = "{model.model}"
api_key = "{model.api_key}"
requests_per_minute = 1000
[bots.telegram]
token = "{telegram.token}"
webhook_secret = "{SECRET}"
api_base_url = "{telegram.api_base_url}"
rate_per_bot = {rate_per_bot}
"""
    )
    return path


def answer(index: int) -> str:
    return " ".join(f"word{index}-{n}" for n in range(WORDS)) + "."


async def ask(telegram: TelegramEmulator, url: str, chat: int, text: str) -> None:
    user = telegram.user(abs(chat) % 10**9 or 7, "Person")
    if chat < 0:
        telegram.chats[chat] = telegram.group(chat, "Support")
        text = f"@{telegram.bot_user['username']} {text}"
        room = telegram.chats[chat]
    else:
        room = telegram.private_chat(telegram.user(chat, "Person"))
        user = telegram.user(chat, "Person")
    update = telegram.message_update(room, user, text)
    result = await telegram.post_webhook(update, url=url, secret=SECRET)
    assert result.status == 200, result.body


async def first_visible(telegram: TelegramEmulator, model: OpenAIEmulator, url: str,
                        rounds: int, per_token: float) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {"private_draft": [], "group_send": []}
    for round_ in range(rounds):
        for kind, chat in (("private_draft", 700_000 + round_), ("group_send", GROUP - round_)):
            model.reply(answer(round_), per_token=per_token, first_token=per_token)
            seen = len(telegram.calls("sendMessageDraft" if chat > 0 else "sendMessage"))
            started = time.perf_counter()
            await ask(telegram, url, chat, "question")
            method = "sendMessageDraft" if chat > 0 else "sendMessage"
            await telegram.wait_for_calls(method, seen + 1, timeout=30)
            latencies[kind].append((time.perf_counter() - started) * 1000)
            await telegram.wait_for(chat, f"word{round_}-{WORDS - 1}.", timeout=60)
    return {
        kind: {"p50_ms": round(percentile(values, 50), 1), "max_ms": round(max(values), 1)}
        for kind, values in latencies.items()
    }


async def concurrent(telegram: TelegramEmulator, model: OpenAIEmulator, url: str,
                     conversations: int, seconds: float) -> dict[str, Any]:
    chats = [800_000 + n for n in range(conversations)]
    model.default = lambda request: answer(int(request.last_user.split()[-1]))
    model.per_token = seconds / WORDS
    started = time.perf_counter()
    await asyncio.gather(*(ask(telegram, url, chat, f"question {n}")
                           for n, chat in enumerate(chats)))
    done: dict[int, float] = {}
    deadline = started + 120
    while len(done) < conversations and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)  # one poll for all, not a waiter per chat in this process
        for n, chat in enumerate(chats):
            sent = telegram.sent(chat) if n not in done else []
            if sent and sent[-1].text.endswith(f"word{n}-{WORDS - 1}."):
                done[n] = time.perf_counter() - started
    complete = sum(telegram.sent(chat)[-1].text == answer(n) for n, chat in enumerate(chats)
                   if n in done)
    drafts = sum(len(telegram.drafts.get(chat, [])) for chat in chats)
    times = list(done.values()) or [0.0]
    return {"conversations": conversations, "complete": complete,
            "answer_seconds_p50": round(percentile(times, 50), 2),
            "answer_seconds_max": round(max(times), 2),
            "drafts_per_conversation": round(drafts / conversations, 1)}


async def run(database_url: str, bus_url: str, conversations: int, seconds: float,
              rounds: int, per_token: float, rate_per_bot: float) -> dict[str, Any]:
    async with (
        fresh_backends(database_url, bus_url) as (database, bus),
        TelegramEmulator() as telegram,
        OpenAIEmulator() as model,
    ):
        with tempfile.TemporaryDirectory(prefix="botgate-assistant-") as directory:
            config = write_config(Path(directory) / "botgate.toml", database, bus, telegram,
                                  model, rate_per_bot)
            service = ServiceProcess.botgate(config)
            base = await service.start()
            url = f"{base}/webhooks/telegram/helpdesk"
            try:
                first = await first_visible(telegram, model, url, rounds, per_token)
                idle, own = service.usage(), _cpu_seconds()
                load = await concurrent(telegram, model, url, conversations, seconds)
                busy, own = service.usage(), _cpu_seconds() - own
            finally:
                await service.stop()
    return {
        "database": database_url.split("://")[0], "bus": bus_url.split("://")[0],
        "telegram_rate_per_bot": rate_per_bot,
        "first_visible_text": {"per_token_ms": per_token * 1000, **first},
        "concurrent": {**load, "model_seconds_per_answer": seconds,
                       "service_peak_rss_mb": round(busy.peak_rss_mb, 1),
                       "service_cpu_s_during_load": round(busy.cpu_seconds - idle.cpu_seconds, 2),
                       # the emulated Telegram and model, and the polling of 100 chats
                       "emulators_cpu_s_during_load": round(own, 2)},
    }


def _cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


@click.command()
@click.option("--database-url", default="sqlite+aiosqlite:///bench.db")
@click.option("--bus-url", default="memory://")
@click.option("--conversations", default=100)
@click.option("--seconds", default=5.0, help="the model's time for one answer")
@click.option("--rounds", default=5, help="questions for the first-visible-text latency")
@click.option("--per-token", default=0.05, help="seconds between the model's tokens")
@click.option("--rate-per-bot", default=30.0, help="[bots.telegram] rate_per_bot (Telegram's)")
def main(database_url: str, bus_url: str, conversations: int, seconds: float, rounds: int,
         per_token: float, rate_per_bot: float) -> None:
    report = asyncio.run(
        run(database_url, bus_url, conversations, seconds, rounds, per_token, rate_per_bot)
    )
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
