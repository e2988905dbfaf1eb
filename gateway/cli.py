"""The `botgate` command (also `python -m gateway`)."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from gateway.config import Settings, load_settings
from gateway.errors import BotgateError
from gateway.kb import cli as kb_cli
from gateway.logs import setup_logging
from gateway.options import config_option


def _settings(config_path: str | None) -> Settings:
    try:
        return load_settings(config_path)
    except BotgateError as exc:
        raise click.ClickException(str(exc)) from None


def _run(main: Callable[[], Awaitable[int]]) -> None:
    """Run a coroutine on uvloop when present; BotgateErrors become clean messages."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        code = runner(main())
    except BotgateError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


@click.group()
@click.option("--log-level", default=None, help="DEBUG, INFO (default), WARNING, ERROR.")
def main(log_level: str | None) -> None:
    """botgate: a chat-platform bot gateway with an event bus."""
    setup_logging(log_level)


@main.command()
@config_option
@click.option(
    "--role",
    type=click.Choice(["all", "gateway", "core", "adapters"]),
    default="all",
    show_default=True,
)
@click.option("--no-migrate", is_flag=True, help="Do not apply pending migrations on start.")
def serve(config_path: str | None, role: str, no_migrate: bool) -> None:
    """Run the service until SIGTERM or SIGINT."""
    from gateway import heap
    from gateway.app import Role, Runtime

    settings = _settings(config_path)

    async def serve_until_signal() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        role_: Role = role  # type: ignore[assignment]
        async with Runtime(settings, role_, migrate=not no_migrate):
            heap.settle_after_start()
            await stop.wait()
            click.echo("stopping: finishing in-flight work", err=True)
        return 0

    _run(serve_until_signal)


@main.command()
@config_option
@click.argument("direction", type=click.Choice(["up", "down", "status"]), default="up")
@click.argument("revision", required=False)
def migrate(config_path: str | None, direction: str, revision: str | None) -> None:
    """Apply (up), revert (down REV) or show (status) database migrations."""
    from store import migrate as migrations
    from store.database import Database

    settings = _settings(config_path)
    if direction == "down" and not revision:
        raise click.UsageError("migrate down needs a revision, e.g. `botgate migrate down base`")

    async def run() -> int:
        db = Database(settings.database)
        try:
            if direction == "up":
                await migrations.upgrade(db.engine, revision or "head")
            elif direction == "down":
                await migrations.downgrade(db.engine, revision or "")
            status = await migrations.status(db.engine)
        finally:
            await db.close()
        pending = ", ".join(status.pending) or "none"
        click.echo(
            f"database {db.url_for_display}: at {status.current or 'base'}, "
            f"head {status.head}, pending: {pending}"
        )
        return 0

    _run(run)


@main.command()
@config_option
def check(config_path: str | None) -> None:
    """Validate the config and reach the database and the bus."""
    from gateway.checks import run_checks

    settings = _settings(config_path)
    _run(lambda: run_checks(settings, click.echo))


@main.command()
@config_option
@click.option("--bot", "bot_name", default=None, help="The bot to talk to (default: the first).")
def chat(config_path: str | None, bot_name: str | None) -> None:
    """Chat with a bot from the terminal, through the full pipeline."""
    from gateway.chat import run_chat

    settings = _settings(config_path)
    _run(lambda: run_chat(settings, bot_name))


@main.command()
@click.option("--database-url", default=None, help="Default: a fresh SQLite file in a temp dir.")
@click.option("--bus-url", default="memory://", show_default=True)
@click.option("--mode", type=click.Choice(["closed", "open"]), default="closed", show_default=True)
@click.option("--concurrency", type=click.IntRange(1), default=64, show_default=True)
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), help="Open loop: events/s.")
@click.option("--duration", type=float, default=None, help="Measured seconds [default: 10].")
@click.option("--events", type=click.IntRange(1), default=None, help="Stop after N events.")
@click.option("--warmup", type=float, default=1.0, show_default=True, help="Unmeasured seconds.")
@click.option("--conversations", type=click.IntRange(1), default=100, show_default=True)
@click.option("--preload", type=click.IntRange(0), default=0, help="Stored messages beforehand.")
@click.option("--compare-raw", is_flag=True, help="Also run the hand-written pipeline.")
@click.option("--rounds", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --compare-raw: pairs of runs; the median ratio is reported.")  # fmt: skip
@click.option("--output", type=click.Path(dir_okay=False), help="Also write the JSON here.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="TOML whose [core], [database], [bus], [sessions] tune the run.")  # fmt: skip
def bench(compare_raw: bool, rounds: int, output: str | None, **options: Any) -> None:
    """Drive signed webhook events through the whole pipeline; print one JSON object."""
    from benchmarks.bench import BenchOptions, run_bench
    from gateway import codec

    if options["mode"] == "open" and options["rate"] is None:
        raise click.UsageError("--mode open needs --rate (events/s)")
    if rounds > 1 and not compare_raw:
        raise click.UsageError("--rounds counts pairs of runs: it needs --compare-raw")
    if options["duration"] is None and options["events"] is None:
        options["duration"] = 10.0
    bench_options = BenchOptions(
        database_url=options.pop("database_url") or "sqlite+aiosqlite://",
        config=options.pop("config_path"),
        **options,
    )

    async def run() -> int:
        text = codec.dumps(await run_bench(bench_options, compare_raw, rounds)).decode()
        click.echo(text)
        if output:
            await asyncio.to_thread(Path(output).write_text, text + "\n")
        return 0

    _run(run)


@main.command()
def keygen() -> None:
    """Print a fresh `security.secret_key`."""
    from gateway.crypto import generate_key

    click.echo(generate_key())


main.add_command(kb_cli.kb)

if __name__ == "__main__":
    main()
