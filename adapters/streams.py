"""What an adapter remembers of each answer it shows while it is written (`Action.stream`):
the platform messages it was split into and what each shows now, so that the next snapshot
edits them (or sends the parts that are new) and the final one leaves exactly the answer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Part = TypeVar("Part")
MAX_STREAMS = 10_000  # answers whose final never came are forgotten beyond this


@dataclass
class Shown(Generic[Part]):
    ids: list[str] = field(default_factory=list)  # platform message ids, in order
    parts: list[Part] = field(default_factory=list)  # what each shows now

    def add(self, message_id: str, part: Part) -> None:
        self.ids.append(message_id)
        self.parts.append(part)


class StreamBook(Generic[Part]):
    def __init__(self) -> None:
        self._shown: dict[uuid.UUID, Shown[Part]] = {}

    def of(self, stream: uuid.UUID) -> Shown[Part]:
        shown = self._shown.get(stream)
        if shown is None:
            if len(self._shown) >= MAX_STREAMS:
                del self._shown[next(iter(self._shown))]
            shown = self._shown[stream] = Shown()
        return shown

    def done(self, stream: uuid.UUID) -> None:
        self._shown.pop(stream, None)
