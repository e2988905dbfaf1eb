"""`help`: the bot's tools, each with its description, and the tools attached to this session."""

from __future__ import annotations

from gateway.tools.base import Reply, ToolCall
from gateway.tools.builtin.base import BuiltinTool
from gateway.tools.texts import describe, say


class HelpTool(BuiltinTool):
    name = "help"
    description = "list what I can do"

    async def run(self, call: ToolCall) -> list[Reply]:
        registry, language = call.services.registry, call.turn.language
        own = registry.tools_for(call.bot)
        lines = [say(language, "help.intro")]
        lines += [f"/{t.name} — {describe(language, t.name, t.description)}" for t in own]
        names = {t.name for t in own}
        extra = [t for n in call.turn.session_tools if n not in names and (t := registry.get(n))]
        if extra:
            lines.append(say(language, "help.session"))
            lines += [f"/{t.name} — {describe(language, t.name, t.description)}" for t in extra]
        return [Reply("\n".join(lines))]
