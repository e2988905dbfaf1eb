"""`botgate chat`: a prompt with history on a terminal, and the bot's buttons as numbers."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from adapters.console import ConsoleAdapter
from gateway.app import Runtime
from gateway.chat import _exchange
from gateway.config import Settings
from gateway.events import Button
from gateway.tools.base import Reply, ToolCall
from tests.support.pipeline import make_settings
from tests.test_cli import config

UP = "\x1b[A"


async def menu(call: ToolCall) -> list[Reply]:
    """offer two buttons"""
    buttons = (Button(id="more", label="Tell me more"), Button(id="done", label="Done"))
    return [Reply("Pick one", buttons)]


async def more(call: ToolCall) -> list[Reply]:
    """the first button"""
    return [Reply("Here is more.")]


class Said:
    def __init__(self) -> None:
        self.shown: list[str] = []
        self.notes: list[str] = []

    def show(self, text: str) -> None:
        self.shown.append(text)

    def note(self, text: str) -> None:
        self.notes.append(text)


def chat_settings(sqlite_url: str, memory_url: str) -> Settings:
    bot = {"name": "helpdesk", "tools": ["help", "menu", "more"]}
    tools = {
        name: {"kind": "python", "entry": f"{__name__}:{name}"} for name in ("menu", "more")
    }
    return make_settings(sqlite_url, memory_url, bots=[bot], tools=tools)


async def test_a_number_presses_the_button_the_bot_offered(
    sqlite_url: str, memory_url: str
) -> None:
    settings = chat_settings(sqlite_url, memory_url)
    said = Said()
    console = ConsoleAdapter(settings.bots[0], settings, output=said.show)
    async with Runtime(
        settings,
        adapters={("console", "helpdesk"): console},
        serve_http=False,
    ):
        await _exchange(console, "/menu", 5, said)  # type: ignore[arg-type]
        assert said.shown == ["helpdesk> Pick one", "  1) Tell me more", "  2) Done"]
        await _exchange(console, "1", 5, said)  # type: ignore[arg-type]
        assert said.shown[-1] == "helpdesk> Here is more."
        await _exchange(console, "7", 5, said)  # no seventh button: said as text
    assert said.shown[-1].startswith("helpdesk> ")
    assert said.shown[-1] != "helpdesk> Here is more."
    assert said.notes == []


def test_the_terminal_prompt_recalls_earlier_lines_with_the_up_arrow(tmp_path: Path) -> None:
    path = config(tmp_path)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BOTGATE_")}
    leader, follower = pty.openpty()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gateway", "chat", "--config", str(path)],
        cwd=tmp_path,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**environment, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"},
    )
    os.close(follower)
    terminal = Terminal(leader)
    try:
        terminal.expect("you>")
        os.write(leader, b"/help\r")
        terminal.expect("Here is what I can do")
        terminal.expect("you>")
        recall(terminal, "/help")  # the same line again, from the history
        os.write(leader, b"\r")
        terminal.expect("Here is what I can do")
        terminal.expect("you>")
        os.write(leader, b"\x04")  # Ctrl-D leaves
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        os.close(leader)
    assert terminal.screen.count("helpdesk> Here is what I can do") == 2
    assert "Traceback" not in terminal.screen


def recall(terminal: Terminal, line: str) -> None:
    """Press up until the prompt shows `line`. The prompt loads its history in a task of its
    own as it starts, so an up arrow that comes first finds none and is pressed again."""
    for _ in range(10):
        os.write(terminal.fd, UP.encode())
        if terminal.shows(line, timeout=3):
            return
    raise AssertionError(f"up did not recall {line!r}; the screen has {terminal.screen!r}")


class Terminal:
    """The leader side of a pseudo-terminal: what the program showed, read as it comes."""

    def __init__(self, fd: int) -> None:
        self.fd, self.screen, self._unread = fd, "", ""

    def expect(self, text: str, timeout: float = 30.0) -> None:
        """Read until `text` shows; fails after `timeout` seconds."""
        assert self.shows(text, timeout), f"{text!r} did not show; the screen has {self._unread!r}"

    def shows(self, text: str, timeout: float) -> bool:
        """Read until `text` shows (True) or `timeout` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        while text not in self._unread:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if select.select([self.fd], [], [], remaining)[0]:
                chunk = os.read(self.fd, 4096).decode(errors="replace")
                self.screen += chunk
                self._unread += chunk
        self._unread = self._unread.split(text, 1)[1]
        return True
