"""Which tool names exist, without loading any tool: what the configuration is checked against."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "botgate.tools"
BUILTIN_NAMES = frozenset({"help", "kb", "remember", "forget", "link", "unlink", "lang"})
# Listing the first name of a pair gives the bot the second too: notes are forgotten where
# they are kept, and an identity is unlinked where it was linked.
COMPANIONS = {"remember": ("forget",), "link": ("unlink",)}


def entry_point_names() -> set[str]:
    return {point.name for point in entry_points(group=ENTRY_POINT_GROUP)}


def known_tool_names(configured: Iterable[str]) -> frozenset[str]:
    return BUILTIN_NAMES | set(configured) | entry_point_names()


def with_companions(names: Iterable[str]) -> list[str]:
    """The bot's listed tools in order, each followed by its companions."""
    seen: dict[str, None] = {}
    for name in names:
        seen[name] = None
        for companion in COMPANIONS.get(name, ()):
            seen[companion] = None
    return list(seen)
