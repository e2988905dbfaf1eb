"""The console's HTML templates (Jinja2, autoescaped: whatever users wrote is shown as text)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

STATIC = Path(str(resources.files("gateway.console") / "static"))
# Files the console serves, by URL name; nothing else under static/ is reachable.
STATIC_FILES = {
    "htmx.min.js": "text/javascript",
    "console.css": "text/css",
    "htmx-LICENSE.txt": "text/plain",
}


def when(value: datetime | None) -> str:
    """A time as operators read it in a table: UTC, to the second."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def shorten(value: str | None, length: int = 120) -> str:
    text = " ".join((value or "").split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _version(name: str) -> str:
    """A digest of a static file, in its URL, so browsers may keep it until it changes."""
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


class Templates:
    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("gateway.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = when
        self.env.filters["shorten"] = shorten
        versions = {name: _version(name) for name in STATIC_FILES}
        self.env.globals["static"] = lambda name: f"/console/static/{name}?v={versions[name]}"

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self.env.get_template(name).render(context)
