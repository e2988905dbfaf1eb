"""The core: records every event, decides whether and how the bot answers, emits actions."""
