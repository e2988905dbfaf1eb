"""Typed shapes of the Slack payloads botgate reads, checked before normalisation reads them.

Only the fields normalisation uses are declared, and only for the kinds it maps: an event type
botgate ignores is never refused for its shape (Slack retries refused events, then turns the
subscription off). Other fields pass through untouched (`extra="allow"`) into `raw`.
`checked` returns the payload as plain JSON again, with declared fields of the declared types.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from adapters.payload import validate

Json = dict[str, Any]
M = TypeVar("M", bound="_Shape")


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class File(_Shape):
    id: str | None = None
    name: str | None = None
    mimetype: str | None = None
    size: int | None = Field(None, ge=0, le=2**53)
    url_private: str | None = None


class Item(_Shape):
    type: str | None = None
    channel: str | None = None
    ts: str | None = None


class Message(_Shape):
    """A message, or what an event says about one (message, app_mention, reaction, member)."""

    type: str | None = None
    subtype: str | None = None
    channel: str | None = None
    channel_type: str | None = None
    user: str | None = None
    bot_id: str | None = None
    username: str | None = None
    text: str | None = None
    ts: str | None = None
    thread_ts: str | None = None
    event_ts: str | None = None
    parent_user_id: str | None = None
    files: list[File] | None = None
    message: Message | None = None
    previous_message: Message | None = None
    deleted_ts: str | None = None
    item: Item | None = None
    reaction: str | None = None


class Authorization(_Shape):
    is_bot: bool | None = None
    user_id: str | None = None


class Callback(_Shape):
    type: str
    event_id: str = Field(min_length=1)
    event: Json
    event_time: int | float | None = None
    authorizations: list[Authorization] | None = None


class Named(_Shape):
    id: str | None = None
    name: str | None = None
    username: str | None = None


class Option(_Shape):
    value: str | None = None


class BlockAction(_Shape):
    action_id: str | None = None
    value: str | None = None
    selected_option: Option | None = None
    action_ts: str | None = None


class Container(_Shape):
    channel_id: str | None = None
    message_ts: str | None = None


class BlockActions(_Shape):
    type: str
    trigger_id: str | None = None
    user: Named | None = None
    channel: Named | None = None
    container: Container | None = None
    message: Message | None = None
    actions: list[BlockAction] | None = None


def checked(model: type[M], data: object, what: str) -> Json:
    """`data` validated as `model`, back as JSON with only the fields it had."""
    return validate(model, data, what).model_dump(exclude_unset=True)

