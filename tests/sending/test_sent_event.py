"""The runner's own pieces on the send path: the `message.sent` event it builds from an action
and its result, and the per-chat send locks it takes and gives back."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.base import SendResult
from gateway import outbound
from gateway.events import (
    FIRST_DELIVERY,
    Action,
    ChannelRef,
    Citation,
    Event,
    MessageBody,
    conversation_key,
    encode,
)
from gateway.outbound import ActionRunner, sent_event

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def reference(action: Action, result: SendResult, event_id: uuid.UUID) -> Event:
    """The event built model by model, each validated on its own (how it was built before)."""
    return Event(
        id=event_id,
        type="message.sent",
        platform=action.platform,
        bot=action.bot,
        dedupe_key=f"{action.platform}:{action.bot}:sent:{action.id}",
        occurred_at=NOW,
        received_at=NOW,
        conversation_key=conversation_key(
            action.platform, action.bot, action.channel_id, action.thread_id
        ),
        channel=ChannelRef(id=action.channel_id),
        thread_id=action.thread_id,
        delivery=FIRST_DELIVERY,
        message=MessageBody(
            id=result.message_id or str(action.id),
            text=result.text if result.text is not None else action.text or "",
            reply_to_id=action.reply_to_id,
            in_reply_to=action.in_reply_to,
            citations=action.citations,
        ),
        raw=dict(result.raw),
    )


CASES = list(
    itertools.product(
        [None, "t-1"],  # thread
        [None, "m-9"],  # reply to
        [[], [Citation(document="a.md", title="A", score=0.5)]],
        [None, "as the platform shows it"],  # result text
        [None, "platform-id"],
        [{}, {"k": [1, {"x": None}]}],
    )
)


@pytest.mark.parametrize(("thread", "reply_to", "citations", "text", "message_id", "raw"), CASES)
def test_sent_event_is_the_event_built_model_by_model(
    monkeypatch: pytest.MonkeyPatch,
    thread: str | None,
    reply_to: str | None,
    citations: list[Citation],
    text: str | None,
    message_id: str | None,
    raw: dict[str, Any],
) -> None:
    monkeypatch.setattr(outbound, "utcnow", lambda: NOW)
    action = Action(
        type="message.send",
        platform="generic",
        bot="bench",
        channel_id="room-1",
        thread_id=thread,
        reply_to_id=reply_to,
        in_reply_to=uuid.uuid4(),
        text="hi",
        citations=citations,
    )
    result = SendResult(message_id=message_id, text=text, raw=raw)
    built = sent_event(action, result)
    expected = reference(action, result, built.id)
    assert encode(built) == encode(expected)  # the same bytes on the bus
    assert built == expected
    assert built.model_fields_set == expected.model_fields_set - {"id"}  # its own id, made
    assert built.message is not None
    assert expected.message is not None
    assert built.message.model_fields_set == expected.message.model_fields_set


def test_sent_event_refuses_what_the_event_schema_refuses() -> None:
    """A channel id longer than the store keeps is refused, as it was model by model."""
    action = Action(type="message.send", platform="generic", bot="bench", channel_id="x" * 300)
    with pytest.raises(ValidationError):
        sent_event(action, SendResult(message_id="m"))


def lane_runner() -> ActionRunner:
    runner = ActionRunner.__new__(ActionRunner)  # only the lanes are used
    runner._locks = {}
    return runner


def action_in(chat: str) -> Action:
    return Action(type="message.send", platform="generic", bot="bench", channel_id=chat)


async def test_a_chat_sends_one_at_a_time_and_its_lock_is_forgotten_after() -> None:
    runner = lane_runner()
    first, second = action_in("room-1"), action_in("room-1")
    lane = await runner._enter_lane(first)
    waiting = asyncio.create_task(runner._enter_lane(second))
    await asyncio.sleep(0)
    assert not waiting.done()  # the same chat waits its turn
    other = await runner._enter_lane(action_in("room-2"))  # another chat does not
    runner._leave_lane(lane)
    assert await waiting is lane
    runner._leave_lane(lane)
    runner._leave_lane(other)
    assert runner._locks == {}


async def test_a_send_arriving_as_a_waiter_is_woken_still_waits_its_turn() -> None:
    """Between a release and the woken waiter's first step the lock reads unlocked; a third
    send arriving then must queue behind the waiter, not get a lock of its own."""
    runner = lane_runner()
    lane = await runner._enter_lane(action_in("room-1"))
    second = asyncio.create_task(runner._enter_lane(action_in("room-1")))
    await asyncio.sleep(0)
    runner._leave_lane(lane)  # wakes `second`, which has not run yet
    third = asyncio.create_task(runner._enter_lane(action_in("room-1")))
    assert await second is lane
    await asyncio.sleep(0)
    assert not third.done()  # behind `second`, on the same lane
    runner._leave_lane(lane)
    assert await third is lane
    runner._leave_lane(lane)
    assert runner._locks == {}


async def test_a_send_cancelled_while_waiting_leaves_no_idle_lock() -> None:
    runner = lane_runner()
    lane = await runner._enter_lane(action_in("room-1"))
    waiting = asyncio.create_task(runner._enter_lane(action_in("room-1")))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert runner._locks  # still held by the send under way
    runner._leave_lane(lane)
    assert runner._locks == {}
