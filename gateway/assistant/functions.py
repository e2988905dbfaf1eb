"""The bot's tools as OpenAI functions, and the model's calls of them run like commands.

A tool with a JSON Schema (`[tools.NAME] parameters`) is offered with it and gets the model's
arguments as their JSON text; a tool without one takes a single string `args` and gets that
string, as a command's arguments. Only the bot's own tools are offered, and a call of any other
name is answered "no such function" without running anything, whatever the model was told."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gateway.tools.base import Tool, Turn
from gateway.tools.runner import ToolRunner

Json = dict[str, Any]
NOT_OFFERED = frozenset({"help"})  # lists commands for people; the model has the functions
ROUND_STRIDE = 100  # call numbers per round: Turn.call ids stay apart from a command's (0)
MAX_RESULT = 8000  # characters of a tool's answer the model reads


def offered(tools: Sequence[Tool]) -> dict[str, Tool]:
    return {tool.name: tool for tool in tools if tool.name not in NOT_OFFERED}


def specs(tools: dict[str, Tool]) -> list[Json]:
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": tool.description or name,
                "parameters": dict(tool.parameters or _SINGLE_STRING),
            },
        }
        for name, tool in tools.items()
    ]


_SINGLE_STRING: Json = {
    "type": "object",
    "properties": {"args": {"type": "string", "description": "the command's arguments"}},
}


def arguments(tool: Tool, raw: str) -> str | None:
    """What the tool is called with, from the model's JSON text; None when it is not JSON."""
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    if tool.parameters:
        return json.dumps(value, ensure_ascii=False)
    args = value.get("args", "")
    return args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)


async def call(
    runner: ToolRunner, tools: dict[str, Tool], turn: Turn, name: str, raw: str, number: int
) -> str:
    """Run one call the model asked for; its answer as the text the model reads next."""
    tool = tools.get(name)
    if tool is None:
        return f"error: there is no function {name!r}; use only the functions you were given"
    args = arguments(tool, raw)
    if args is None:
        return "error: the arguments are not a JSON object; call the function again"
    replies = await runner.run(tool, turn.call(name, args, number))
    return "\n\n".join(reply.text for reply in replies)[:MAX_RESULT] or "(no answer)"
