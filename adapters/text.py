"""Text helpers every adapter shares: commands and leading mentions."""

from __future__ import annotations

import re

from gateway.events import Command

_COMMAND = re.compile(
    r"^/([A-Za-z0-9_][A-Za-z0-9_-]{0,63})(?:@([A-Za-z0-9_]+))?(?:\s+(.*))?$", re.S
)


def parse_command(text: str, bot_username: str | None = None) -> Command | None:
    """`/name args` or `/name@bot args`; a command addressed to another bot is not ours."""
    fields = command_fields(text, bot_username)
    return None if fields is None else Command.model_validate(fields)


def command_fields(text: str, bot_username: str | None = None) -> dict[str, str] | None:
    """`parse_command`'s answer as the fields of a `Command`, for building an event in one
    validation (a hot path: every generic webhook)."""
    if not text.lstrip().startswith("/"):  # most messages are not commands: skip the regex
        return None
    match = _COMMAND.match(text.strip())
    if not match:
        return None
    name, addressee, args = match[1], match[2], match[3] or ""
    if addressee and (bot_username is None or addressee.lower() != bot_username.lower()):
        return None
    return {"name": name.lower(), "args": args.strip()}


def strip_leading_mention(text: str, handles: tuple[str, ...]) -> tuple[str, bool]:
    """Remove a leading mention of the bot (any of `handles`, e.g. '@helpdesk', '<@U123>')."""
    stripped = text.lstrip()
    for handle in handles:
        if handle and stripped.lower().startswith(handle.lower()):
            rest = stripped[len(handle) :]
            if not rest or rest[0] in " \t\n,:":
                return rest.lstrip(" \t\n,:"), True
    return text, False
