"""A slack-bolt app served over HTTP (Events API, slash commands, interactivity), tested
offline against botgate's Slack emulator: the emulator signs each request with the app's
signing secret and POSTs it to the app's request URL, as Slack does."""

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from botgate.testing import serve

# The bot.


def build_app(token: str, signing_secret: str, api_url: str) -> AsyncApp:
    app = AsyncApp(
        signing_secret=signing_secret,
        client=AsyncWebClient(token=token, base_url=api_url),
    )

    @app.message("hello")
    async def greet(message, say):
        await say(
            text=f"Hi <@{message['user']}>!",
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": "Hi! Approve the plan?"}},
                {"type": "actions", "block_id": "plan", "elements": [
                    {"type": "button", "action_id": "approve",
                     "text": {"type": "plain_text", "text": "Approve"}, "value": "plan-1"},
                ]},
            ],
        )

    @app.action("approve")
    async def approve(ack, body, client):
        await ack()
        await client.chat_update(channel=body["channel"]["id"], ts=body["message"]["ts"],
                                 text="Approved :white_check_mark:", blocks=[])

    @app.command("/weather")
    async def weather(ack, command):
        await ack(f"Sunny in {command['text']}")  # shown to the user who ran it

    return app


# The test.


@pytest.mark.asyncio
async def test_message_button_and_command(slack_emulator):
    app = build_app(slack_emulator.bot_token, slack_emulator.signing_secret,
                    slack_emulator.api_url)
    async with serve(app.web_app()) as url:
        slack_emulator.request_url = f"{url}/slack/events"

        await slack_emulator.inject_message("C0GENERAL", "hello bot")
        greeting = await slack_emulator.wait_for("C0GENERAL", "Hi <@U0ALICE>")
        assert greeting.buttons == ("Approve",)

        await slack_emulator.inject_button(greeting, "Approve")
        await slack_emulator.wait_for("C0GENERAL", "Approved")

        delivery = await slack_emulator.inject_command("C0GENERAL", "/weather", "London")
        assert delivery.answer.status == 200
        answer = await slack_emulator.wait_for("C0GENERAL", "Sunny in London")
        assert answer.ephemeral
