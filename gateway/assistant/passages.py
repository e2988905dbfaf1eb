"""Knowledge-base passages for a question: what the assistant puts before the model, numbered,
with the instruction to cite them. The knowledge base (gateway/kb) provides the real source;
`NoPassages` stands in for a bot without collections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.events import Citation
from gateway.tools.base import Turn


@dataclass(frozen=True)
class Passage:
    text: str
    citation: Citation


class PassageSource(Protocol):
    """The best passages of the bot's collections (and the person's) for `question`, best
    first, at most `limit`; none when nothing is similar enough."""

    async def passages(self, turn: Turn, question: str, limit: int) -> list[Passage]: ...


class NoPassages:
    async def passages(self, turn: Turn, question: str, limit: int) -> list[Passage]:
        return []
