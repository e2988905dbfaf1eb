"""The assistant's link in a bot's responder chain: after the tools (so commands never reach the
model) and before the fallback, it answers plain messages the core answers (every message in
a direct channel; mentions of the bot and replies to it elsewhere).

One answer is up to `max_tool_rounds` rounds of function calls and then the model's text,
streamed where the platform shows answers while they are written. A model that fails, stalls
past `timeout` or answers garbage gets the person a short apology; the next message starts
afresh."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from gateway.assistant import functions, prompt
from gateway.assistant.budget import DailyTokens, RequestRate
from gateway.assistant.client import ChatClient, Completion, ModelError, OnText
from gateway.assistant.passages import Passage, PassageSource
from gateway.config import BotConfig
from gateway.events import Event
from gateway.metrics import Metrics
from gateway.tools.base import Reply, Tool, Turn
from gateway.tools.registry import ToolRegistry
from gateway.tools.runner import ToolRunner
from gateway.tools.texts import say
from store import assistant as said
from store import people
from store.database import Database

log = logging.getLogger(__name__)
Json = dict[str, Any]
MAX_PASSAGES = 4


def question_of(event: Event) -> str | None:
    """The text of a plain message (not a command, a button or an edit), or None."""
    message = event.message
    if event.type != "message.created" or message is None or message.command is not None:
        return None
    return message.text.strip() or None


class AssistantResponder:
    def __init__(
        self,
        bot: BotConfig,
        client: ChatClient,
        registry: ToolRegistry,
        runner: ToolRunner,
        passages: PassageSource,
        db: Database,
        metrics: Metrics,
        health: dict[str, str],
    ) -> None:
        assert bot.assistant is not None
        self.bot, self.config, self.client = bot.name, bot.assistant, client
        self.registry, self.runner, self.passages = registry, runner, passages
        self.db, self.metrics, self.health = db, metrics, health
        self.rate = RequestRate(self.config.requests_per_minute)
        self.daily = DailyTokens(db, self.config.tokens_per_day)

    async def respond(self, turn: Turn) -> list[Reply] | None:
        question = question_of(turn.event)
        if question is None:
            return None
        refusal = await self._refusal(turn)
        if refusal is not None:
            self._count("refused")
            return [Reply(say(turn.language, refusal))]
        found = await self._passages(turn, question)
        messages = await self._messages(turn, question, found)
        try:
            text = await self._converse(turn, messages)
        except ModelError as exc:
            log.warning("assistant of bot %s: %s: %s", self.bot, exc.kind, exc)
            return [Reply(say(turn.language, "assistant.apology"))]
        citations = tuple(p.citation for p in prompt.cited(text, found)) if found else ()
        return [Reply(self._scrub(text), citations=citations)]

    async def _refusal(self, turn: Turn) -> str | None:
        person = str(turn.refs.user_id or turn.refs.platform_user_id or turn.event.conversation_key)
        if not self.rate.take(person):
            return "assistant.busy"
        if not await self.daily.left(turn.refs.bot_id):
            return "assistant.budget"
        return None

    async def _passages(self, turn: Turn, question: str) -> list[Passage]:
        if not turn.bot.kb:
            return []
        try:
            return await self.passages.passages(turn, question, MAX_PASSAGES)
        except Exception as exc:  # the knowledge base failing must not silence the model
            log.warning("knowledge base lookup for bot %s failed: %s", self.bot, exc)
            return []

    async def _messages(self, turn: Turn, question: str, found: list[Passage]) -> list[Json]:
        refs = turn.refs
        async with self.db.transaction() as session:
            notes = await people.notes(session, refs.bot_id, refs.user_id) if refs.user_id else []
            history = (
                await said.history(session, refs.session_id, self.config.max_history, turn.event.id)
                if refs.session_id
                else []
            )
        system = prompt.system_message(self.config.system_prompt, [n.text for n in notes], found)
        return [system, *prompt.conversation(history, question)]

    async def _converse(self, turn: Turn, messages: list[Json]) -> str:
        tools = functions.offered(self.registry.tools_for(turn.bot))
        rounds = self.config.max_tool_rounds if tools else 0
        for round_ in range(rounds + 1):
            offer = functions.specs(tools) if round_ < rounds else []
            completion = await self._ask(turn, messages, offer)
            if not completion.calls or not offer:
                if not completion.text.strip():
                    raise ModelError("garbage", "the model answered nothing")
                return completion.text
            await self._call_tools(turn, tools, messages, completion, round_)
        raise AssertionError("unreachable: the last round offers no tools")

    async def _call_tools(
        self,
        turn: Turn,
        tools: dict[str, Tool],
        messages: list[Json],
        completion: Completion,
        round_: int,
    ) -> None:
        messages.append(
            {
                "role": "assistant",
                "content": completion.text or None,
                "tool_calls": [
                    {"id": c.id, "type": "function",
                     "function": {"name": c.name, "arguments": c.arguments}}
                    for c in completion.calls
                ],
            }
        )
        for index, request in enumerate(completion.calls):
            number = (round_ + 1) * functions.ROUND_STRIDE + index
            result = await functions.call(
                self.runner, tools, turn, request.name, request.arguments, number
            )
            messages.append(
                {"role": "tool", "tool_call_id": request.id, "content": self._scrub(result)}
            )

    async def _ask(self, turn: Turn, messages: list[Json], tools: list[Json]) -> Completion:
        budget = self.config.context_tokens - self.config.max_tokens
        sent = prompt.trimmed(messages, budget - prompt.estimate(json.dumps(tools)))
        started = time.perf_counter()
        try:
            completion = await self.client.complete(sent, tools, self._on_text(turn))
        except ModelError as exc:
            self._count(exc.kind)
            self.health[self.bot] = f"{exc.kind}: {exc}"
            raise
        self.health[self.bot] = "ok"
        await self._spent(turn, sent, completion, time.perf_counter() - started)
        return completion

    def _on_text(self, turn: Turn) -> OnText | None:
        sink = turn.stream
        if sink is None or not self.config.stream:
            return None

        async def show(text: str) -> None:
            await sink.show(self._scrub(text))

        return show

    async def _spent(
        self, turn: Turn, sent: list[Json], completion: Completion, seconds: float
    ) -> None:
        tokens_in = completion.tokens_in or sum(prompt.cost(m) for m in sent)
        tokens_out = completion.tokens_out or prompt.estimate(completion.text)
        labels = (self.bot, self.config.model)
        self._count("ok")
        self.metrics.assistant_tokens.labels(*labels, "in").inc(tokens_in)
        self.metrics.assistant_tokens.labels(*labels, "out").inc(tokens_out)
        if completion.first_chunk is not None:
            self.metrics.assistant_first_token_seconds.labels(*labels).observe(
                completion.first_chunk
            )
        self.metrics.assistant_seconds.labels(*labels).observe(seconds)
        try:
            await self.daily.spend(turn.refs.bot_id, tokens_in, tokens_out)
        except Exception as exc:  # the answer stands; the budget is a little off
            log.warning("could not count the tokens of bot %s: %s", self.bot, exc)

    def _count(self, outcome: str) -> None:
        self.metrics.assistant_requests.labels(self.bot, self.config.model, outcome).inc()

    def _scrub(self, text: str) -> str:
        key = self.config.api_key
        return text.replace(key, "***") if key else text


