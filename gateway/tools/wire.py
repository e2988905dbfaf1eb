"""The wire form of a remote tool call (`botgate.tool_call/1`) and of its answer, shared by
the http and bus kinds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway import codec
from gateway.events import Button
from gateway.tools.base import Reply, ToolCall, ToolFailure

TOOL_CALL_SCHEMA = "botgate.tool_call/1"
MAX_REPLIES = 10


def call_body(call: ToolCall) -> bytes:
    event = call.event
    user = event.user
    return codec.dumps(
        {
            "schema": TOOL_CALL_SCHEMA,
            "id": str(call.id),
            "tool": call.tool,
            "args": call.args,
            "platform": event.platform,
            "bot": event.bot,
            "session_id": str(call.refs.session_id) if call.refs.session_id else None,
            "user": {"id": user.id, "name": user.name} if user else None,
            "channel": {"id": event.channel.id, "type": event.channel.type},
            "event": event.model_dump(mode="json", by_alias=True),
        }
    )


class _AnsweredReply(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    text: str = Field(min_length=1, max_length=40_000)
    buttons: list[Button] = Field(default_factory=list, max_length=25)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    replies: list[_AnsweredReply] = Field(max_length=MAX_REPLIES)


def parse_answer(body: bytes) -> list[Reply]:
    """`{"replies": [{"text": …, "buttons": [{"id", "label"}]}]}`; anything else is a failure."""
    try:
        answer = _Answer.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ToolFailure(
            f"the tool's answer is not a botgate answer ({where}: {first['msg']})"
        ) from None
    return [Reply(r.text, tuple(r.buttons)) for r in answer.replies]


def normalise(result: Any) -> list[Reply]:
    """What a Python tool may return: a Reply, text, or a list of either, or None."""
    if result is None:
        return []
    if isinstance(result, Reply | str):
        result = [result]
    if not isinstance(result, list | tuple):
        raise ToolFailure(f"a Python tool returned {type(result).__name__}, not replies")
    return [item if isinstance(item, Reply) else Reply(_text(item)) for item in result]


def _text(item: Any) -> str:
    if not isinstance(item, str):
        raise ToolFailure(f"a Python tool returned {type(item).__name__} in its replies")
    return item
