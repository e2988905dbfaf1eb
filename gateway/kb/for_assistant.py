"""The knowledge base as the assistant's passage source: the bot's collections and the
person's extra ones, the passages similar enough to the question, best first."""

from __future__ import annotations

from gateway.assistant.passages import Passage
from gateway.events import Citation
from gateway.kb.answer import choose, cite
from gateway.kb.errors import CollectionNotFound, EmptyCollection, QueryError
from gateway.tools.base import Turn


class KbPassages:
    async def passages(self, turn: Turn, question: str, limit: int) -> list[Passage]:
        services, bot = turn.services, turn.bot
        if services.kb is None or not bot.kb:
            return []
        extra = await services.profiles.extra_collections(turn.refs.user_id, bot.organization)
        try:
            hits = await services.kb.search(
                services.db, bot.organization, [*bot.kb, *extra], question, limit=10
            )
        except (QueryError, CollectionNotFound, EmptyCollection):
            return []
        chosen = choose(hits, services.kb.config.min_score)[:limit]
        return [Passage(hit.text, Citation(**cite(hit).as_dict())) for hit in chosen]
