"""A python-telegram-bot bot that long-polls, tested offline against botgate's Telegram
emulator (the `telegram_emulator` fixture)."""

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

# The bot: in your project this lives in your package and is imported by the test.


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    buttons = [[InlineKeyboardButton("Yes", callback_data="yes"),
                InlineKeyboardButton("No", callback_data="no")]]
    await update.message.reply_text("Welcome! Ready?", reply_markup=InlineKeyboardMarkup(buttons))


async def chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(f"You chose {update.callback_query.data}")


async def chart(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_photo(b"\x89PNG fake image bytes", caption="Sales this week",
                                     filename="chart.png")


def build_application(token: str, base_url: str, base_file_url: str) -> Application:
    application = (
        Application.builder().token(token).base_url(base_url).base_file_url(base_file_url).build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("chart", chart))
    application.add_handler(CallbackQueryHandler(chosen))
    return application


# The test.


@pytest.mark.asyncio
async def test_start_button_and_photo(telegram_emulator):
    application = build_application(
        telegram_emulator.token, telegram_emulator.api_base_url, telegram_emulator.file_base_url
    )
    async with application:
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await talk_to(telegram_emulator)
        finally:
            await application.updater.stop()
            await application.stop()


async def talk_to(telegram_emulator):
    await telegram_emulator.inject_command(42, "start")  # user 42 writes /start
    welcome = await telegram_emulator.wait_for(42, "Welcome")
    assert welcome.buttons == ("Yes", "No")

    await telegram_emulator.inject_button(welcome, "Yes")
    await telegram_emulator.wait_for(42, "You chose yes")  # the same message, edited

    await telegram_emulator.inject_command(42, "chart")
    photo = await telegram_emulator.wait_for(42, "Sales")
    assert photo.files == ("chart.png",)
