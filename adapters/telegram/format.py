"""Markdown (what bots and models write) -> Telegram plain text and message entities.

The Markdown is parsed by a real parser (telegramify-markdown, on pulldown-cmark): headings,
nested lists, tables, code blocks, quotes and links come out as text with `bold`, `pre`,
`blockquote`, `text_link`... entities, and nothing can make Telegram refuse to parse it (there
is no parse mode to break). Splitting a long text is then safe too: cuts fall at paragraph,
line or sentence ends of the plain text, and an entity cut in two is kept on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import MessageEntity
from telegramify_markdown import convert
from telegramify_markdown.config import RenderConfig

from adapters.split import MAX_TEXT, cut_points, utf16_offsets

Json = dict[str, Any]
_CONFIG = RenderConfig.isolated()
for _level in range(1, 7):  # headings are bold text, without decorations of their own
    setattr(_CONFIG.markdown_symbol, f"heading_level_{_level}", "")
_CONFIG.markdown_symbol.unordered_list_item = "•"


@dataclass(frozen=True)
class Formatted:
    """A text as Telegram takes it: plain text and its entities (UTF-16 offsets)."""

    text: str
    entities: tuple[Json, ...] = ()

    def message_entities(self) -> list[MessageEntity] | None:
        return [MessageEntity(**entity) for entity in self.entities] or None


def render(text: str, markdown: bool = True) -> Formatted:
    if not markdown:
        return Formatted(text)
    plain, entities = convert(text, latex_escape=False, config=_CONFIG)
    found = tuple(_clean(entity.to_dict()) for entity in entities)
    return Formatted(plain, found)


def _clean(entity: Json) -> Json:
    return {key: value for key, value in entity.items() if value is not None}


def parts(text: str, markdown: bool = True, limit: int = MAX_TEXT) -> list[Formatted]:
    """`text` rendered and split into messages of at most `limit` UTF-16 units each."""
    whole = render(text, markdown)
    offsets = utf16_offsets(whole.text)
    return [
        Formatted(whole.text[start:end], _clipped(whole.entities, offsets[start], offsets[end]))
        for start, end in cut_points(whole.text, limit)
    ] or [whole]


def _clipped(entities: tuple[Json, ...], low: int, high: int) -> tuple[Json, ...]:
    """The entities within [low, high), moved to start at 0; one cut in two keeps its part."""
    kept = []
    for entity in entities:
        start = max(entity["offset"], low)
        end = min(entity["offset"] + entity["length"], high)
        if end > start:
            kept.append({**entity, "offset": start - low, "length": end - start})
    return tuple(kept)
