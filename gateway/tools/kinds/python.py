"""`kind = "python"` and the `botgate.tools` entry points: a tool written in Python.

What `entry = "module:attribute"` (or an entry point) names may be
- an object with `name`, `description` and `async run(call)` (a Tool), or a class of one;
- an `async def tool(call)` function, whose docstring's first line is its description.
It returns a Reply, text, or a list of either."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from gateway.errors import ConfigError
from gateway.tools.base import Reply, Tool, ToolCall
from gateway.tools.names import ENTRY_POINT_GROUP
from gateway.tools.wire import normalise

DEFAULT_TIMEOUT = 10.0


class PythonTool:
    """Wraps what the entry names, under the tool's configured name and timeout."""

    def __init__(
        self,
        name: str,
        target: Any,
        *,
        description: str | None = None,
        timeout: float | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        if inspect.isclass(target):
            target = target()
        self.name = name
        self._run: Callable[[ToolCall], Awaitable[Any]] = _runner(name, target)
        self.description = description or _description(target)
        self.timeout = timeout or float(getattr(target, "timeout", DEFAULT_TIMEOUT))
        self.parameters = parameters or getattr(target, "parameters", None)

    async def run(self, call: ToolCall) -> list[Reply]:
        return normalise(await self._run(call))


def load_entry(name: str, entry: str) -> Any:
    """The object `module:attribute` names; a clear error naming the tool otherwise."""
    module_name, _, attribute = entry.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"config key tools.{name}.entry: cannot load {entry!r}: {exc}") from exc
    return target


def entry_point_tools(wanted: set[str]) -> dict[str, Tool]:
    """The tools installed packages register (group `botgate.tools`) that are wanted."""
    tools: dict[str, Tool] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name in wanted:
            try:
                target = point.load()
            except Exception as exc:
                raise ConfigError(
                    f"tool {point.name!r} ({point.value}): cannot load: {exc}"
                ) from exc
            tools[point.name] = PythonTool(point.name, target)
    return tools


def _runner(name: str, target: Any) -> Callable[[ToolCall], Awaitable[Any]]:
    run = getattr(target, "run", None)
    if run is not None and inspect.iscoroutinefunction(run):
        return run  # type: ignore[no-any-return]
    if inspect.iscoroutinefunction(target):
        return target  # type: ignore[no-any-return]
    raise ConfigError(
        f"tool {name!r}: {target!r} is neither an `async def tool(call)` nor an object with "
        "an `async def run(self, call)`"
    )


def _description(target: Any) -> str:
    described = getattr(target, "description", None)
    if isinstance(described, str):
        return described
    doc = inspect.getdoc(target) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
