"""`help`: the bot's tools, each with its description, and the tools attached to this session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.tools.base import Reply, ToolCall
from gateway.tools.builtin.base import BuiltinTool
from gateway.tools.texts import describe, say

if TYPE_CHECKING:
    from gateway.config import BotConfig
    from gateway.tools.registry import ToolRegistry

CACHED_TEXTS = 1_000  # (bot, language, session tools) texts kept; then the cache starts afresh


class HelpTool(BuiltinTool):
    name = "help"
    description = "list what I can do"
    waits = False  # built from the registry in memory (see BuiltinTool.waits)

    def __init__(self) -> None:
        # The text is the same for every call with the same tools, language and session
        # tools: built once (it was a tenth of an answer's CPU), again when a tool is added.
        self._texts: dict[tuple[Any, ...], str] = {}

    async def run(self, call: ToolCall) -> list[Reply]:
        registry, turn = call.services.registry, call.turn
        language, session_tools = turn.language, turn.session_tools
        key = (registry, registry.generation, tuple(call.bot.tools), language, session_tools)
        text = self._texts.get(key)
        if text is None:
            if len(self._texts) >= CACHED_TEXTS:
                self._texts.clear()
            text = self._texts[key] = _text(registry, call.bot, language, session_tools)
        return [Reply(text)]


def _text(
    registry: ToolRegistry, bot: BotConfig, language: str, session_tools: tuple[str, ...]
) -> str:
    own = registry.tools_for(bot)
    lines = [say(language, "help.intro")]
    lines += [f"/{t.name} — {describe(language, t.name, t.description)}" for t in own]
    names = {t.name for t in own}
    extra = [t for n in session_tools if n not in names and (t := registry.get(n))]
    if extra:
        lines.append(say(language, "help.session"))
        lines += [f"/{t.name} — {describe(language, t.name, t.description)}" for t in extra]
    return "\n".join(lines)
