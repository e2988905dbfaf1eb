"""A python-telegram-bot bot behind a webhook, tested offline against botgate's Telegram
emulator: PTB registers its webhook with the emulator (setWebhook), and the emulator POSTs
updates to it with the secret token, as Telegram does."""

import pytest
from telegram import BotCommand, Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from botgate.testing import free_port

# The bot.


async def post_init(application: Application) -> None:
    await application.bot.set_my_commands([BotCommand("help", "What I can do")])


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text("I echo what you write.")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text(update.message.text)


def build_application(token: str, base_url: str) -> Application:
    application = Application.builder().token(token).base_url(base_url).post_init(post_init).build()
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return application


# The test.


@pytest.mark.asyncio
async def test_webhook_bot(telegram_emulator):
    application = build_application(telegram_emulator.token, telegram_emulator.api_base_url)
    port = free_port()
    async with application:
        await application.post_init(application)  # run_webhook() would; `async with` does not
        await application.start()
        await application.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="telegram",
            webhook_url=f"http://127.0.0.1:{port}/telegram",
            secret_token="webhook-secret",
        )
        try:
            await talk_to(telegram_emulator)
        finally:
            await application.updater.stop()
            await application.stop()


async def talk_to(telegram_emulator):
    assert telegram_emulator.webhook.url.endswith("/telegram")

    delivery = await telegram_emulator.inject_message(7, "hello there")
    assert delivery.via == "webhook"
    assert delivery.answer.status == 200
    await telegram_emulator.wait_for(7, "hello there")

    await telegram_emulator.inject_command(7, "help")
    await telegram_emulator.wait_for(7, "I echo")
    (commands,) = telegram_emulator.commands.values()
    assert commands == [{"command": "help", "description": "What I can do"}]
