"""What the built-in tools share: a local answer well within its timeout, no JSON Schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class BuiltinTool:
    name: str
    description: str
    timeout: float = 10.0
    parameters: Mapping[str, Any] | None = None
    # False for a tool that answers from memory and never awaits anything that waits: the
    # runner sets no timer for it, as a timeout could never interrupt it.
    waits: bool = True
