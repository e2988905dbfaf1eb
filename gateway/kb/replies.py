"""The knowledge base answering a person: the `kb` tool and plain questions in direct
channels both search the bot's collections and the person's extra ones, and reply with the
best passages, each cited; the citations travel with the reply and are stored with it."""

from __future__ import annotations

from gateway.events import Citation
from gateway.kb.answer import Answer, answer
from gateway.tools.base import Reply, Turn

# What one message may hold on each platform (Telegram 4,096, Discord 2,000, Slack's text
# fallback 4,000), with room to spare for formatting.
MESSAGE_LENGTH = {"telegram": 3800, "discord": 1900, "slack": 3500}
DEFAULT_LENGTH = 3800


async def search_for(turn: Turn, query: str) -> Answer:
    services, bot = turn.services, turn.bot
    assert services.kb is not None
    extra = await services.profiles.extra_collections(turn.refs.user_id, bot.organization)
    length = MESSAGE_LENGTH.get(turn.event.platform, DEFAULT_LENGTH)
    return await answer(
        services.kb, services.db, bot.organization, [*bot.kb, *extra], query, length
    )


def cited_reply(found: Answer) -> Reply:
    citations = tuple(Citation(**c.as_dict()) for c in found.citations)
    return Reply(found.text, format="plain", citations=citations)


class KbResponder:
    """A plain message in a direct channel, to a bot with collections, is answered from them
    when a passage matches; otherwise the next link (the fallback) answers."""

    async def respond(self, turn: Turn) -> list[Reply] | None:
        event = turn.event
        if event.channel.type != "direct" or event.message is None or event.message.command:
            return None
        if event.interaction is not None or not event.message.text.strip():
            return None
        found = await search_for(turn, event.message.text)
        return [cited_reply(found)] if found.found else None
