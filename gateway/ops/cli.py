"""The operations commands: `botgate dead`, `token`, `export`, `erase`, `replay`.

Bad input gets one line and a non-zero exit, and changes nothing. State changes are audited
with the actor `cli:<login name>`.
"""

from __future__ import annotations

import getpass
import json
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import Any

import click

from gateway import codec
from gateway.cli_support import config_option
from gateway.cli_support import run as _run
from gateway.cli_support import settings_from as _settings
from gateway.config import Settings
from gateway.errors import BotgateError, ConfigError
from gateway.events import utcnow
from gateway.ops import dead, tokens
from gateway.ops.erase import erase
from gateway.ops.times import time_range
from store import audit
from store import dead_letters as letters
from store.database import Database
from store.history import Filters


class _Command(click.Command):
    """A BotgateError (bad input found before or during the run) is one line, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BotgateError as exc:
            raise click.ClickException(str(exc)) from None


class _Group(click.Group):
    command_class = _Command


def register(main: click.Group) -> None:
    for command in (dead_group, token_group, export_command, erase_command, replay_command):
        main.add_command(command)


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Database]:
    """The database, refusing to work on one whose migrations are pending."""
    db = Database(settings.database)
    try:
        await db.ping()
        status = await db.migration_status()
        if not status.up_to_date:
            raise ConfigError(
                f"database migrations are pending ({', '.join(status.pending)}): "
                "run `botgate migrate up`"
            )
        yield db
    finally:
        await db.close()


def _echo_json(value: Any) -> None:
    click.echo(codec.dumps(value).decode())


def _person_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise click.BadParameter(f"{value[:80]!r} is not a person id (a users.id UUID)") from None


# dead letters


@click.group("dead", cls=_Group)
def dead_group() -> None:
    """Dead letters: what failed for good, when and why; re-drive them."""


@dead_group.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--status", type=click.Choice(letters.STATUSES), default=None)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
def dead_list(config_path: str | None, as_json: bool, status: str | None, limit: int) -> None:
    """The newest dead letters first."""
    settings = _settings(config_path)

    async def run() -> int:
        async with opened(settings) as db, db.transaction() as session:
            rows = [
                letters.as_json(row) for row in await letters.page(session, limit, None, status)
            ]
        if as_json:
            for row in rows:
                _echo_json(row)
        else:
            _table(rows)
        return 0

    _run(run)


def _table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("no dead letters")
        return
    for row in rows:
        click.echo(
            f"{row['id']}  {row['status']:<9}  {row['last_dead_at'][:19]}  "
            f"{row['origin_queue'] or row['origin_exchange']}  x{row['attempts']}  "
            f"{row['error'] or '-'}: {row['reason'][:100]}"
        )


@dead_group.command("show")
@config_option
@click.argument("letter_id")
def dead_show(config_path: str | None, letter_id: str) -> None:
    """One dead letter with its headers and body, as JSON."""
    settings = _settings(config_path)
    parsed = dead.parse_letter_id(letter_id)

    async def run() -> int:
        async with opened(settings) as db, db.transaction() as session:
            row = await letters.get(session, parsed)
            if row is None:
                raise dead.UnknownDeadLetter(f"no dead letter {parsed}; see `botgate dead list`")
            shown = letters.as_json(row, body=True)
        click.echo(json.dumps(shown, indent=2))
        return 0

    _run(run)


@dead_group.command("redrive")
@config_option
@click.argument("ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every dead letter (oldest first).")
@click.option("--max", "most", type=click.IntRange(1), default=None,
              help="Re-drive at most N (default: operations.redrive_limit).")  # fmt: skip
def dead_redrive(
    config_path: str | None, ids: tuple[str, ...], every: bool, most: int | None
) -> None:
    """Send dead letters back to the queue they died in, once each."""
    if bool(ids) == every:
        raise click.UsageError("name the dead letters to re-drive, or pass --all (not both)")
    settings = _settings(config_path)
    limit = min(most or settings.operations.redrive_limit, settings.operations.redrive_limit)
    if ids:
        [dead.parse_letter_id(value) for value in ids]  # a malformed id changes nothing

    async def run() -> int:
        async with opened(settings) as db:
            asked = await dead.request_redrive(db, list(ids) or None, limit, actor())
            sent = await _drain_here(settings, db, limit) if asked.queued else None
        for skipped in asked.skipped:
            click.echo(f"{skipped}: not re-driven (it is not dead: already queued or re-driven)")
        where = (
            f"re-drove {sent}"
            if sent is not None
            else "the serving core publishes them within "
            f"{settings.operations.redrive_interval.total_seconds():g}s"
        )
        click.echo(f"queued {len(asked.queued)} dead letter(s) for re-drive; {where}")
        return 0

    _run(run)


async def _drain_here(settings: Settings, db: Database, limit: int) -> int | None:
    """On a broker this command publishes itself; the in-process bus is the server's alone."""
    from gateway.app import bus_options
    from gateway.bus.factory import create_bus

    if settings.bus.url.startswith("memory:"):
        return None
    bus = create_bus(settings.bus.url, **bus_options(settings))
    await bus.connect()
    try:
        return await dead.drain(bus, db, limit)
    finally:
        await bus.close()


# tokens


@click.group("token", cls=_Group)
def token_group() -> None:
    """API tokens of the admin API: printed once, stored only as a hash."""


@token_group.command("create")
@config_option
@click.argument("name")
@click.option("--scope", required=True, help="read, write or admin.")
@click.option("--expires", default=None, help="Lifetime, e.g. 90d (default: never).")
def token_create(config_path: str | None, name: str, scope: str, expires: str | None) -> None:
    """Create a token and print it (only this once)."""
    settings = _settings(config_path)
    tokens.check_name(name)
    tokens.parse_scope(scope)
    tokens.parse_expiry(expires, utcnow())

    async def run() -> int:
        async with opened(settings) as db:
            token, described = await tokens.create(db, name, scope, expires, actor())
        click.echo(token)
        until = described["expires_at"] or "never"
        click.echo(
            f"token {name!r} (scope {described['scope']}, expires {until}): shown only now, "
            "keep it safe",
            err=True,
        )
        return 0

    _run(run)


@token_group.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True)
def token_list(config_path: str | None, as_json: bool) -> None:
    """Tokens by name, with scope and state (never the token)."""
    settings = _settings(config_path)

    async def run() -> int:
        async with opened(settings) as db:
            rows = await tokens.listing(db)
        for row in rows:
            if as_json:
                _echo_json(row)
            else:
                expires, used = row["expires_at"] or "never", row["last_used_at"] or "never"
                click.echo(
                    f"{row['name']:<24} {row['scope']:<6} {row['state']:<8} "
                    f"expires {expires}  last used {used}"
                )
        if not rows and not as_json:
            click.echo("no tokens")
        return 0

    _run(run)


@token_group.command("revoke")
@config_option
@click.argument("name")
def token_revoke(config_path: str | None, name: str) -> None:
    """Revoke a token: it answers 401 from now on."""
    settings = _settings(config_path)

    async def run() -> int:
        async with opened(settings) as db:
            await tokens.revoke(db, name, actor())
        click.echo(f"revoked token {name!r}")
        return 0

    _run(run)


# export, erase, replay


def _filters(
    bot: str | None,
    conversation: str | None,
    person: str | None,
    since: str | None,
    until: str | None,
) -> Filters:
    start, end = time_range(since, until, utcnow())
    return Filters(
        bot=bot,
        conversation=conversation,
        person=_person_id(person) if person else None,
        since=start,
        until=end,
    )


@click.command("export", cls=_Command)
@config_option
@click.option("--bot", default=None)
@click.option("--conversation", default=None, help="platform:bot:channel[:thread]")
@click.option("--person", default=None, help="A users.id: every platform identity of one person.")
@click.option("--since", default=None, help="ISO 8601 time, or a span ago (7d).")
@click.option("--until", default=None)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None)
def export_command(config_path: str | None, output: str | None, **options: str | None) -> None:
    """JSON Lines of sessions and messages, streamed."""
    from gateway.ops.export import export

    settings = _settings(config_path)
    filters = _filters(**options)

    async def run() -> int:
        async with opened(settings) as db:
            # A blocking file is right here: the exporter writes each chunk between reads.
            target = open(output, "wb") if output else nullcontext(sys.stdout.buffer)  # noqa: SIM115, ASYNC230
            with target as out:
                counts = await export(db, filters, out)
            async with db.transaction() as session:  # who read what, not the data itself
                asked = {k: v for k, v in options.items() if v is not None}
                audit.record(session, actor(), "history.export", details={**asked, **counts})
        summary = ", ".join(f"{n} {kind}(s)" for kind, n in counts.items())
        click.echo(f"exported {summary}" + (f" to {output}" if output else ""), err=True)
        return 0

    _run(run)


@click.command("erase", cls=_Command)
@config_option
@click.option("--person", required=True, help="The users.id of the person to erase.")
def erase_command(config_path: str | None, person: str) -> None:
    """Remove a person's messages, notes, preferences and identities on every platform."""
    settings = _settings(config_path)
    person_id = _person_id(person)

    async def run() -> int:
        async with opened(settings) as db:
            counts = await erase(db, person_id, actor())
        click.echo(
            f"erased person {person_id}: " + ", ".join(f"{n} {k}" for k, n in counts.items())
        )
        return 0

    _run(run)


@click.command("replay", cls=_Command)
@config_option
@click.option("--since", required=True, help="ISO 8601 time, or a span ago (7d).")
@click.option("--until", default=None)
@click.option("--bot", default=None)
@click.option("--to", "to", required=True, help="A queue, or a routing key on botgate.replay.")
@click.option("--allow-core", is_flag=True, help="Allow botgate's own queues as the target.")
def replay_command(
    config_path: str | None,
    since: str,
    until: str | None,
    bot: str | None,
    to: str,
    allow_core: bool,
) -> None:
    """Re-publish recorded messages as events, in their original order."""
    from gateway.app import bus_options
    from gateway.bus.factory import create_bus
    from gateway.ops.replay import replay, target_of

    settings = _settings(config_path)
    filters = _filters(bot, None, None, since, until)
    if settings.bus.url.startswith("memory:"):
        raise click.ClickException(
            "replay publishes to a broker other services share; [bus] url is the in-process "
            "memory:// bus, which no other process can read"
        )

    async def run() -> int:
        async with opened(settings) as db:
            bus = create_bus(settings.bus.url, **bus_options(settings))
            await bus.connect()
            try:
                exchange, key = await target_of(bus, to, allow_core)
                published, skipped = await replay(db, bus, filters, exchange, key)
            finally:
                await bus.close()
            async with db.transaction() as session:
                details = {"published": published, "since": since, "until": until, "bot": bot}
                audit.record(session, actor(), "events.replay", ("target", to), details=details)
        where = f"queue {key!r}" if not exchange else f"{exchange} with routing key {key!r}"
        click.echo(
            f"replayed {published} event(s) to {where}"
            + (f"; {skipped} skipped" if skipped else "")
        )
        return 0

    _run(run)
