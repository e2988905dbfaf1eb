"""Snapshots of an answer being written, sent to the Slack adapter: posted once, then updated
with `chat.update`, the final text with the buttons."""

from __future__ import annotations

import uuid
from typing import Any

from adapters.slack import SlackAdapter
from botgate.testing.slack import SlackEmulator
from gateway.events import Action, Button, StreamRef

SLACK_CHANNEL = "C024BE91L"


def snapshots(platform: str, channel: str, texts: list[str], **final: Any) -> list[Action]:
    """One answer's snapshots, the last of them its final text."""
    stream = uuid.uuid4()
    return [
        Action.model_validate({
            "type": "message.send", "platform": platform, "bot": "helpdesk",
            "channel_id": channel, "text": text,
            "stream": StreamRef(id=stream, seq=seq, final=seq == len(texts) - 1),
            **(final if seq == len(texts) - 1 else {}),
        })
        for seq, text in enumerate(texts)
    ]


async def test_slack_posts_once_then_updates(adapter: SlackAdapter, slack: SlackEmulator) -> None:
    actions = snapshots("slack", SLACK_CHANNEL, ["Refunds", "Refunds take **14", "Refunds take "
                        "**14 days**."], buttons=[Button(id="more", label="More")])
    results = [await adapter.send(action) for action in actions]
    [message] = slack.posted(SLACK_CHANNEL)
    assert message["text"] == "Refunds take *14 days*."
    assert len(slack.calls("chat.postMessage")) == 1
    assert len(slack.calls("chat.update")) == 2
    assert message["blocks"][-1]["type"] == "actions"  # the buttons come with the final text
    assert {r.message_id for r in results} == {message["ts"]}
