"""Import progress: a bar redrawn in place on a terminal, plain lines otherwise (logs, CI).

Failures are always printed as lines of their own, so that none is lost in the redraw.
"""

from __future__ import annotations

import shutil
from typing import Protocol, TextIO

_FAILED = "failed"


class Progress(Protocol):
    def start(self, total: int) -> None: ...

    def step(self, path: str, outcome: str, detail: str = "") -> None:
        """One file done: `outcome` is new, changed, unchanged or failed (then `detail` is
        the reason)."""
        ...

    def note(self, text: str) -> None: ...

    def finish(self) -> None: ...


def progress_for(stream: TextIO) -> Progress:
    return TerminalProgress(stream) if stream.isatty() else LineProgress(stream)


class NullProgress:
    def start(self, total: int) -> None:
        return None

    def step(self, path: str, outcome: str, detail: str = "") -> None:
        return None

    def note(self, text: str) -> None:
        return None

    def finish(self) -> None:
        return None


class LineProgress:
    """A line per file that changed the collection or failed; unchanged files stay quiet."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def start(self, total: int) -> None:
        return None

    def step(self, path: str, outcome: str, detail: str = "") -> None:
        if outcome == _FAILED:
            print(f"FAILED {path}: {detail}", file=self.stream, flush=True)
        elif outcome != "unchanged":
            print(f"{outcome} {path}" + (f" ({detail})" if detail else ""), file=self.stream)

    def note(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def finish(self) -> None:
        self.stream.flush()


class TerminalProgress:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.total = 0
        self.done = 0

    def start(self, total: int) -> None:
        self.total = total
        self._draw("")

    def step(self, path: str, outcome: str, detail: str = "") -> None:
        self.done += 1
        if outcome == _FAILED:
            self._clear()
            print(f"FAILED {path}: {detail}", file=self.stream)
        self._draw(path)

    def note(self, text: str) -> None:
        self._clear()
        print(text, file=self.stream)
        self._draw("")

    def finish(self) -> None:
        self._clear()

    def _draw(self, path: str) -> None:
        width = shutil.get_terminal_size((80, 20)).columns
        filled = int(30 * self.done / self.total) if self.total else 30
        head = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} "
        room = max(width - len(head) - 1, 0)
        name = path if len(path) <= room else "..." + path[-(room - 3) :] if room > 3 else ""
        self.stream.write("\r" + head + name.ljust(room))
        self.stream.flush()

    def _clear(self) -> None:
        width = shutil.get_terminal_size((80, 20)).columns
        self.stream.write("\r" + " " * (width - 1) + "\r")
