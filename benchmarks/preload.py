"""Prepares a run's database: the schema (the project's own migrations, so botgate and the raw
pipeline write the same tables), the bench bot and its knowledge base, and optionally a stored
history.

The history is inserted set-based inside the database (`generate_series` on PostgreSQL, a
recursive CTE on SQLite), so 100k messages take seconds: N messages and N de-duplication
entries over N/10 users, channels and open sessions. Its ids never collide with the load's,
so the run only meets it in the indexes, which is the point: the cost per event must not
grow with the tables.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import text

from gateway.config import Settings, load_settings
from gateway.crypto import vault_for
from store.bots import sync_bots
from store.database import Database

MESSAGES_PER_CONVERSATION = 10

SQL_WORDS = {
    "postgresql": {
        "uuid": "gen_random_uuid()",
        "now": "now()",
        "obj": "CAST('{}' AS jsonb)",
        "arr": "CAST('[]' AS jsonb)",
        "false": "false",
        "true": "true",
    },
    "sqlite": {
        "uuid": "lower(hex(randomblob(16)))",
        "now": "datetime('now')",
        "obj": "'{}'",
        "arr": "'[]'",
        "false": "0",
        "true": "1",
    },
}

RECURSIVE_SERIES = (
    "WITH RECURSIVE series(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM series"
    " WHERE g + 1 < CAST(:{size} AS integer)) "
)
STATEMENTS = (
    """INSERT INTO users (id, name, is_active, created_at, updated_at)
       SELECT {uuid}, 'pre-' || g, {true}, {now}, {now} FROM {series:conversations}""",
    """INSERT INTO platform_users (id, platform, external_id, name, is_bot, user_id,
         last_seen_at, created_at, updated_at)
       SELECT {uuid}, 'generic', u.name, u.name, {false}, u.id, {now}, {now}, {now}
       FROM users u WHERE u.name LIKE 'pre-%'""",
    """INSERT INTO platform_channels (id, bot_id, platform, external_id, type, created_at,
         updated_at)
       SELECT {uuid}, b.id, 'generic', 'pre-' || g, 'direct', {now}, {now}
       FROM {series:conversations} JOIN bots b ON b.name = {bot}""",
    """INSERT INTO user_sessions (id, bot_id, platform_user_id, platform_channel_id, started_at,
         last_activity_at, context, created_at, updated_at)
       SELECT {uuid}, b.id, u.id, c.id, {now}, {now}, {obj}, {now}, {now}
       FROM platform_users u
       JOIN platform_channels c ON c.platform = u.platform AND c.external_id = u.external_id
       JOIN bots b ON b.name = {bot}
       WHERE u.external_id LIKE 'pre-%'""",
    """INSERT INTO messages (id, direction, external_id, platform_channel_id, platform_user_id,
         session_id, bot_id, event_id, text, attachments, occurred_at, created_at, updated_at)
       SELECT {uuid}, 'in', 'pre-' || g, s.platform_channel_id, s.platform_user_id, s.id,
         s.bot_id, {uuid}, 'a stored message ' || g, {arr}, {now}, {now}, {now}
       FROM {series:messages}
       JOIN platform_channels c
         ON c.platform = 'generic' AND c.external_id = 'pre-' || (g % {conversations})
         AND c.bot_id = (SELECT id FROM bots WHERE name = {bot})
       JOIN user_sessions s ON s.platform_channel_id = c.id""",
    """INSERT INTO processed_events
         (id, dedupe_key, event_id, event_type, platform, bot, processed_at, result)
       SELECT {uuid}, 'generic:' || {bot} || ':event:pre-' || g, {uuid}, 'message.created',
         'generic', {bot}, {now}, {obj}
       FROM {series:messages}""",
)


async def prepare_database(config: Path, preload: int) -> None:
    """Migrate, register the configured bots, fill their knowledge base, and store `preload`
    messages."""
    settings = load_settings(config, environ={})
    db = Database(settings.database)
    try:
        await db.migrate()
        async with db.transaction() as session:
            await sync_bots(session, settings, vault_for(settings))
        for collection in {name for bot in settings.bots for name in bot.kb}:
            await import_documents(db, settings, collection)
        if preload > 0:
            await store_history(db, settings.bots[0].name, preload)
    finally:
        await db.close()


async def import_documents(db: Database, settings: Settings, collection: str) -> None:
    """A small generated manual in `collection`, imported as `botgate kb import` does: the
    bench bot searches a real knowledge base (its model loaded, its collection kept warm)."""
    from gateway.kb.importer import Importer
    from gateway.kb.search import KnowledgeBase

    with tempfile.TemporaryDirectory(prefix="botgate-bench-kb-") as directory:
        for page in range(KB_PAGES):
            (Path(directory) / f"page-{page:02d}.md").write_text(_page(page))
        async with KnowledgeBase(settings.kb) as base:
            importer = Importer(base, db, "default", collection)
            report = await importer.run([Path(directory)])
    if report.failed:
        raise RuntimeError(f"bench: the knowledge base import failed: {report.summary()}")


KB_PAGES = 30
_TOPICS = ("billing", "accounts", "deliveries", "returns", "security", "notifications")


def _page(number: int) -> str:
    topic = _TOPICS[number % len(_TOPICS)]
    sections = [
        f"## {topic.title()} question {number}.{part}\n\nHow {topic} works, part {part}: "
        f"requests about {topic} are answered within {number + part} hours, and the "
        f"{topic} team keeps a record of every change for {part + 1} years.\n"
        for part in range(4)
    ]
    return f"# {topic.title()} guide {number}\n\n" + "\n".join(sections)


async def store_history(db: Database, bot: str, messages: int) -> None:
    conversations = max(1, messages // MESSAGES_PER_CONVERSATION)
    params = {"bot": bot, "messages": messages, "conversations": conversations}
    async with db.engine.begin() as connection:
        for statement in STATEMENTS:
            await connection.execute(text(render(statement, db.dialect)), params)
    async with db.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("ANALYZE"))


def render(statement: str, dialect: str) -> str:
    """Fill in the dialect's words and its way of counting rows 0..n-1 (as `g`)."""
    words = SQL_WORDS[dialect]
    prefix = ""
    for size in ("conversations", "messages"):
        marker = "{series:" + size + "}"
        if marker not in statement:
            continue
        if dialect == "postgresql":
            series = f"generate_series(0, CAST(:{size} AS integer) - 1) AS series(g)"
        else:
            prefix = RECURSIVE_SERIES.replace("{size}", size)
            series = "series"
        statement = statement.replace(marker, series)
    words = {
        **words,
        "bot": "CAST(:bot AS text)",
        "conversations": "CAST(:conversations AS integer)",
    }
    for word, spelling in words.items():
        statement = statement.replace("{" + word + "}", spelling)
    return prefix + statement
