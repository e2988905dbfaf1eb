"""What an adapter remembers of each answer it shows while it is written (`Action.stream`):
the platform messages it was split into and what each shows now, so that the next snapshot
edits them (or sends the parts that are new) and the final one leaves exactly the answer."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from adapters.base import SendResult
from gateway.events import Action

Part = TypeVar("Part")
Contra = TypeVar("Contra", contravariant=True)
MAX_STREAMS = 10_000  # answers whose final never came are forgotten beyond this


@dataclass
class Shown(Generic[Part]):
    ids: list[str] = field(default_factory=list)  # platform message ids, in order
    parts: list[Part] = field(default_factory=list)  # what each shows now
    raw: Mapping[str, Any] = field(default_factory=dict)  # the platform's first message

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


class PartSender(Protocol[Contra]):
    """What `show` needs of a platform: send a part as a new message (its id), edit one,
    delete one."""

    async def send_part(
        self, action: Action, part: Contra, first: bool, markup: bool
    ) -> tuple[str, Mapping[str, Any]]: ...

    async def edit_part(
        self, action: Action, message_id: str, part: Contra, markup: bool
    ) -> None: ...

    async def delete_part(self, action: Action, message_id: str) -> None: ...


async def show(
    sender: PartSender[Part], action: Action, shown: Shown[Part], parts: list[Part], final: bool
) -> None:
    """Make the messages of `shown` show `parts`: edit those that differ, send the new ones;
    the reply goes on the first message, the buttons on the last of the final text, and
    messages beyond a final text that came out shorter are deleted."""
    for index, part in enumerate(parts):
        markup = final and index == len(parts) - 1
        if index >= len(shown.ids):
            message_id, raw = await sender.send_part(action, part, not shown.ids, markup)
            shown.raw = shown.raw or raw
            shown.add(message_id, part)
        elif shown.parts[index] != part or (markup and action.buttons):
            await sender.edit_part(action, shown.ids[index], part, markup)
            shown.parts[index] = part
    if final:
        for message_id in shown.ids[len(parts) :]:
            await sender.delete_part(action, message_id)
        del shown.ids[len(parts) :], shown.parts[len(parts) :]


def result(action: Action, shown: Shown[Any]) -> SendResult:
    """What the final text of a stream (or a whole message) left on the platform."""
    return SendResult(
        message_id=shown.ids[0] if shown.ids else None,
        text=action.text,
        raw=shown.raw,
        extra_message_ids=tuple(shown.ids[1:]),
    )
