"""botgate's test kit: local emulators of Telegram, Slack and Discord that the real SDKs talk
to, with one recording API (`inject_*`, `sent`, `wait_for`, `calls`) and fault knobs, a fake
OpenAI-compatible model API (`OpenAIEmulator`), and a pytest plugin (`telegram_emulator`,
`slack_emulator`, `discord_emulator`, `openai_emulator` fixtures).

See docs/testing-your-bot.md. Import the emulators from their modules
(`botgate.testing.telegram`, `.slack`, `.discord`) or from here.
"""

from botgate.testing.base import Call, Delivery, DeliveryResult
from botgate.testing.discord import DiscordEmulator
from botgate.testing.faults import Fault, ManualClock
from botgate.testing.openai import OpenAIEmulator
from botgate.testing.sent import Sent
from botgate.testing.serve import free_port, serve
from botgate.testing.slack import SlackEmulator
from botgate.testing.telegram import TelegramEmulator

__all__ = [
    "Call",
    "Delivery",
    "DeliveryResult",
    "DiscordEmulator",
    "Fault",
    "ManualClock",
    "OpenAIEmulator",
    "Sent",
    "SlackEmulator",
    "TelegramEmulator",
    "free_port",
    "serve",
]
