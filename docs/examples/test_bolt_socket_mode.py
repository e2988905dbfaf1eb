"""A slack-bolt app on Socket Mode, tested offline against botgate's Slack emulator: the app
opens its websocket with the app token (apps.connections.open), and the emulator pushes
events, commands and interactions down it and collects the acknowledgements."""

import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

# The bot.


def build_app(token: str, api_url: str) -> AsyncApp:
    app = AsyncApp(client=AsyncWebClient(token=token, base_url=api_url))

    @app.event("app_mention")
    async def mentioned(event, say):
        await say(text="You called?", thread_ts=event["ts"])

    @app.command("/feedback")
    async def feedback(ack, body, client):
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view={
            "type": "modal", "callback_id": "feedback",
            "title": {"type": "plain_text", "text": "Feedback"},
            "submit": {"type": "plain_text", "text": "Send"},
            "blocks": [{"type": "input", "block_id": "text", "label": {
                "type": "plain_text", "text": "Your feedback"},
                "element": {"type": "plain_text_input", "action_id": "value"}}],
        })

    @app.view("feedback")
    async def feedback_sent(ack, body, view, client):
        await ack()
        text = view["state"]["values"]["text"]["value"]["value"]
        await client.chat_postEphemeral(channel="C0GENERAL", user=body["user"]["id"],
                                        text=f"Thanks for: {text}")

    return app


# The test.


@pytest.mark.asyncio
async def test_mention_and_modal(slack_emulator):
    app = build_app(slack_emulator.bot_token, slack_emulator.api_url)
    handler = AsyncSocketModeHandler(app, slack_emulator.app_token)
    await handler.connect_async()
    try:
        await slack_emulator.wait_for_socket()

        delivery = await slack_emulator.inject_message("C0GENERAL", "<@U0BOTGATE> ping")
        assert delivery.via == "socket_mode"
        reply = await slack_emulator.wait_for("C0GENERAL", "You called?")
        assert reply.raw["thread_ts"] == delivery.payload["event"]["ts"]

        await slack_emulator.inject_command("C0GENERAL", "/feedback")
        modal = await slack_emulator.wait_for_view()
        await slack_emulator.inject_view_submission(modal, {"value": "great tool"})
        thanks = await slack_emulator.wait_for("C0GENERAL", "Thanks for: great tool")
        assert thanks.ephemeral
    finally:
        await handler.close_async()
