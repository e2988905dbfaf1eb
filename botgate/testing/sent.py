"""What a bot sent, read back the same way on every platform, and the failure message of a
`wait_for` that found nothing."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botgate.testing.base import Call

Match = str | re.Pattern[str] | Callable[["Sent"], bool] | None


@dataclass(frozen=True)
class Sent:
    """One message the bot sent, as the platform shows it now (after edits).

    `text` is the text or caption; `buttons` the labels of its buttons; `files` the names of
    the files it carries; `ephemeral` marks a message only one user sees (Slack's
    `chat.postEphemeral` and ephemeral responses, Discord's ephemeral interaction answers);
    `raw` is the platform's own message object."""

    chat: str
    id: str
    text: str
    buttons: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    ephemeral: bool = False
    edited: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> str:
        parts = [repr(self.text)]
        if self.buttons:
            parts.append("[buttons: " + " | ".join(self.buttons) + "]")
        if self.files:
            parts.append("[files: " + ", ".join(self.files) + "]")
        if self.ephemeral:
            parts.append("(ephemeral)")
        if self.edited:
            parts.append("(edited)")
        return " ".join(parts)


def matcher(match: Match) -> Callable[[Sent], bool]:
    if match is None:
        return lambda _: True
    if isinstance(match, str):
        return lambda sent: match in sent.text
    if isinstance(match, re.Pattern):
        return lambda sent: match.search(sent.text) is not None
    return match


def _describe_match(match: Match) -> str:
    if match is None:
        return ""
    if isinstance(match, str):
        return f" containing {match!r}"
    if isinstance(match, re.Pattern):
        return f" matching /{match.pattern}/"
    return f" for which {getattr(match, '__name__', 'the predicate')} holds"


def describe_calls(calls: Sequence[Call]) -> str:
    if not calls:
        return "The bot made no calls."
    lines = ["Last calls the bot made:"]
    for call in calls:
        answer = call.error or ("ok" if call.status and call.status < 300 else "not answered")
        lines.append(f"  {call.name} -> {call.status or '-'} {answer}")
    return "\n".join(lines)


def _listed(title: str, items: Sequence[str], limit: int = 10) -> list[str]:
    if not items:
        return []
    shown = [f"  {item}" for item in items[-limit:]]
    more = [f"  ... and {len(items) - limit} earlier"] if len(items) > limit else []
    return [title, *more, *shown]


def nothing_matched(
    *,
    platform: str,
    chat: str,
    match: Match,
    count: int,
    timeout: float,
    here: Sequence[Sent],
    elsewhere: Sequence[Sent],
    failed: Sequence[Call],
    refused: Sequence[str],
    errors: Sequence[str],
) -> str:
    """The message of a `wait_for` timeout: what was wanted, and what happened instead."""
    wanted = f"fewer than {count} messages" if count > 1 else "no message"
    wanted += _describe_match(match)
    lines = [f"{platform} emulator: the bot sent {wanted} to chat {chat} within {timeout}s."]
    if here:
        lines += _listed(f"The bot sent there ({len(here)}):", [s.describe() for s in here])
    else:
        lines.append("The bot sent nothing there.")
    lines += _listed("It sent elsewhere:", [f"{s.chat}: {s.describe()}" for s in elsewhere], 5)
    lines += _listed(
        "Calls that failed:", [f"{c.name} -> {c.status} {c.error}" for c in failed]
    )
    lines += _listed("Deliveries the bot did not accept:", list(refused))
    lines += _listed("Emulator errors:", list(errors))
    return "\n".join(lines)
