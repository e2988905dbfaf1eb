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


async def test_in_a_thread_slack_streams_with_its_streaming_methods(
    adapter: SlackAdapter, slack: SlackEmulator
) -> None:
    thread = "1700000010.000200"
    actions = snapshots("slack", SLACK_CHANNEL, ["Refunds", "Refunds take **14", "Refunds take "
                        "**14 days**."], buttons=[Button(id="more", label="More")])
    for action in actions:
        await adapter.send(action.model_copy(update={"thread_id": thread}))
    [message] = slack.posted(SLACK_CHANNEL)
    assert message["text"] == "Refunds take **14 days**."  # Slack renders the Markdown itself
    assert message["thread_ts"] == thread
    names = [c.name for c in slack.calls() if c.name.startswith("chat.")]
    assert names == ["chat.startStream", "chat.appendStream", "chat.stopStream"]
    assert slack.calls("chat.appendStream")[0].params["markdown_text"] == " take **14"
    assert message["blocks"][-1]["type"] == "actions"


async def test_an_app_refused_streaming_posts_and_updates_instead(
    adapter: SlackAdapter, slack: SlackEmulator
) -> None:
    slack.fail("chat.startStream", "not_allowed_token_type")
    thread = "1700000010.000200"
    for action in snapshots("slack", SLACK_CHANNEL, ["One", "One two", "One two three."]):
        await adapter.send(action.model_copy(update={"thread_id": thread}))
    [message] = slack.posted(SLACK_CHANNEL)
    assert message["text"] == "One two three."
    assert len(slack.calls("chat.startStream")) == 1
    assert len(slack.calls("chat.update")) == 2
