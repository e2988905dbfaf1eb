from __future__ import annotations

from typing import Any

import pytest

from gateway.core.answers import to_actions
from gateway.core.recorder import should_answer
from gateway.events import (
    Button,
    ChannelRef,
    Command,
    Event,
    Interaction,
    MessageBody,
    UserRef,
    utcnow,
)
from gateway.ids import new_id
from gateway.tools.base import Reply


def event(
    channel_type: str = "direct",
    *,
    type_: str = "message.created",
    is_bot: bool = False,
    **message: Any,
) -> Event:
    return Event(
        type=type_,  # type: ignore[arg-type]
        platform="generic",
        bot="helpdesk",
        dedupe_key="k",
        occurred_at=utcnow(),
        conversation_key="generic:helpdesk:c",
        user=UserRef(id="u", is_bot=is_bot),
        channel=ChannelRef(id="c", type=channel_type),  # type: ignore[arg-type]
        message=MessageBody(id="m1", text="hi", **message),
        interaction=Interaction(id="more") if type_ == "interaction.clicked" else None,
    )


@pytest.mark.parametrize(
    ("case", "built", "answered"),
    [
        ("direct message", event("direct"), True),
        ("group chatter", event("group"), False),
        ("group command", event("group", command=Command(name="help")), True),
        ("group mention", event("group", mentions_bot=True), True),
        ("reply to the bot in a channel", event("channel", reply_to_bot=True), True),
        ("thread chatter", event("thread"), False),
        ("a bot in a direct channel", event("direct", is_bot=True), False),
        ("a bot's command", event("group", is_bot=True, command=Command(name="help")), False),
        ("slash command in a channel", event("channel", type_="command.invoked"), True),
        ("button click in a group", event("group", type_="interaction.clicked"), True),
        ("an edit", event("direct", type_="message.updated"), False),
        ("the bot's own sent message", event("direct", type_="message.sent"), False),
    ],
)
def test_which_events_are_answered(case: str, built: Event, answered: bool) -> None:
    assert should_answer(built) is answered, case


def test_replies_answer_in_place_in_groups_and_plainly_in_direct() -> None:
    [direct] = to_actions(event("direct"), [Reply("a")], new_id())
    [group] = to_actions(
        event("group", command=Command(name="help")),
        [Reply("b", (Button(id="more", label="More"),))],
        new_id(),
    )
    assert direct.reply_to_id is None
    assert direct.channel_id == "c"
    assert group.reply_to_id == "m1"
    assert group.buttons[0].label == "More"
    assert group.in_reply_to is not None


def test_an_answer_given_again_has_the_same_action_ids() -> None:
    """After a crash the answer is given again under its row's id: the adapters' send ledger
    recognises the actions and does not send them twice."""
    turn, other = new_id(), new_id()
    replies = [Reply("one"), Reply("two")]
    first = [a.id for a in to_actions(event("direct"), replies, turn)]
    again = [a.id for a in to_actions(event("direct"), replies, turn)]
    assert first == again
    assert len(set(first)) == 2
    assert set(first).isdisjoint(a.id for a in to_actions(event("direct"), replies, other))
