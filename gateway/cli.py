"""The `botgate` command (also `python -m gateway`)."""

from __future__ import annotations

import asyncio
import faulthandler
import ipaddress
import logging
import signal
from pathlib import Path
from typing import Any

import click

from gateway.cli_support import BotgateGroup, config_option, run, set_debug, settings_from
from gateway.config import DEMO_SECRET, Settings
from gateway.errors import ConfigError
from gateway.kb import cli as kb_cli
from gateway.logs import LEVELS, setup_logging

log = logging.getLogger("gateway.cli")
ROLES_HELP = """Run the service until SIGTERM or SIGINT.

\b
Roles (--role):
  all       every role in one process (the default)
  gateway   webhooks and the admin API; run one or more behind a load balancer
  core      records events and answers them; one or more
  adapters  sends replies and holds the platform connections
            (Telegram polling, Slack Socket Mode, Discord gateway)

Split roles share one database and a RabbitMQ bus (amqp://): memory:// lives inside one
process. Every role serves /healthz, /readyz and /metrics, so on one host each role needs a
port of its own: --port N, or --port 0 for a free one (the log says which).
"""


@click.group(cls=BotgateGroup)
@click.version_option(package_name="botgate", prog_name="botgate")
@click.option(
    "--log-level",
    type=click.Choice(LEVELS, case_sensitive=False),
    envvar="BOTGATE_LOG_LEVEL",
    default="INFO",
    show_default=True,
    help="Also BOTGATE_LOG_LEVEL.",
)
@click.option(
    "--debug",
    is_flag=True,
    is_eager=True,
    envvar="BOTGATE_DEBUG",
    callback=set_debug,
    help="Show the traceback of an error (for bug reports). Also BOTGATE_DEBUG=1.",
)
def main(log_level: str, debug: bool) -> None:
    """botgate: a chat-platform bot gateway with an event bus."""
    setup_logging(log_level)


@main.command(help=ROLES_HELP)
@config_option
@click.option(
    "--role",
    type=click.Choice(["all", "gateway", "core", "adapters"]),
    default="all",
    show_default=True,
    help="Which part of botgate this process runs (see above).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="HTTP port, over [server] port and BOTGATE_PORT; 0 picks a free one.",
)
@click.option("--no-migrate", is_flag=True, help="Do not apply pending migrations on start.")
def serve(config_path: str | None, role: str, port: int | None, no_migrate: bool) -> None:
    from gateway import heap
    from gateway.app import Role, Runtime
    from gateway.otel import tracing_from_environment

    settings = _serving(settings_from(config_path), role, port)
    faulthandler.register(signal.SIGUSR2, all_threads=True)  # `kill -USR2 PID`: every stack

    async def serve_until_signal() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        role_: Role = role  # type: ignore[assignment]
        with tracing_from_environment():
            async with Runtime(settings, role_, migrate=not no_migrate):
                heap.settle_after_start()
                await stop.wait()
                click.echo("stopping: finishing in-flight work", err=True)
        return 0

    run(serve_until_signal)


def _warn_of_demo_secrets(settings: Settings) -> None:
    """The demo bot's secret is in the README: fine on loopback, a hole anywhere else."""
    if _is_loopback(settings.server.host):
        return
    for index, bot in enumerate(settings.bots):
        if bot.generic is not None and bot.generic.secret == DEMO_SECRET:
            log.warning(
                "bots[%d].generic.secret is the published demo value and server.host is %s: "
                "anyone can sign messages to bot %r; set a secret of your own",
                index,
                settings.server.host,
                bot.name,
            )


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serving(settings: Settings, role: str, port: int | None) -> Settings:
    """The settings with `--port` applied, checked before anything is started: the secret key
    (a start without one would migrate the database first), and that a split role has a bus
    the other processes reach."""
    from gateway.crypto import existing_vault

    existing_vault(settings)
    _warn_of_demo_secrets(settings)
    if role != "all" and settings.bus.url.startswith("memory:"):
        raise ConfigError(
            f"--role {role} with bus.url = {settings.bus.url!r}: the in-process bus does not "
            "reach the other roles' processes; set [bus] url (BOTGATE_BUS_URL) to "
            "amqp://user:pass@host:5672/vhost, or run --role all"
        )
    if port is None:
        return settings
    return settings.model_copy(update={"server": settings.server.model_copy(update={"port": port})})


@main.command()
@config_option
@click.argument("direction", type=click.Choice(["up", "down", "status"]), default="up")
@click.argument("revision", required=False)
def migrate(config_path: str | None, direction: str, revision: str | None) -> None:
    """Apply (up), revert (down REV) or show (status) database migrations."""
    from gateway.migrating import run_migrate

    settings = settings_from(config_path)
    if direction == "down" and not revision:
        raise click.UsageError("migrate down needs a revision, e.g. `botgate migrate down base`")
    run(lambda: run_migrate(settings.database, direction, revision, click.echo))


@main.command()
@config_option
def check(config_path: str | None) -> None:
    """Validate the config and reach the database and the bus (creates nothing)."""
    from gateway.checks import run_checks

    settings = settings_from(config_path)
    run(lambda: run_checks(settings, click.echo))


@main.command()
@config_option
@click.option("--bot", "bot_name", default=None, help="The bot to talk to (default: the first).")
def chat(config_path: str | None, bot_name: str | None) -> None:
    """Chat with a bot from the terminal, through the full pipeline.

    Up and down recall what you typed; when the bot offers buttons, type a button's number
    to press it. Ctrl-D leaves.
    """
    from gateway.chat import run_chat

    settings = settings_from(config_path)
    run(lambda: run_chat(settings, bot_name))


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
@click.option("--tool-latency", type=click.FloatRange(min=0), default=None, metavar="MS",
              help="Every event calls an http tool answering after MS milliseconds.")  # fmt: skip
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="TOML whose [core], [database], [bus], [sessions] tune the run.")  # fmt: skip
@click.option("--processes", default=None, metavar="gateway=1,core=3,adapters=2",
              help="Roles as separate processes (PostgreSQL and RabbitMQ only).")  # fmt: skip
@click.option("--shards", type=click.IntRange(1, 1024), default=None,
              help="[bus] shards for the run (1: one ordered queue for all).")  # fmt: skip
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
    if options["tool_latency"] is not None:
        if compare_raw:
            raise click.UsageError("--tool-latency runs botgate alone: drop --compare-raw")
        options["tool_latency"] /= 1000
    if options["processes"] is not None:
        options["processes"] = _split_roles(options)
    bench_options = BenchOptions(
        database_url=options.pop("database_url") or "sqlite+aiosqlite://",
        config=options.pop("config_path"),
        **options,
    )

    async def bench_and_report() -> int:
        text = codec.dumps(await run_bench(bench_options, compare_raw, rounds)).decode()
        click.echo(text)
        if output:
            await asyncio.to_thread(Path(output).write_text, text + "\n")
        return 0

    run(bench_and_report)


def _split_roles(options: dict[str, Any]) -> dict[str, int]:
    from benchmarks.service import parse_processes

    try:
        counts = parse_processes(options["processes"])
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not str(options["bus_url"]).startswith("amqp"):
        raise click.UsageError("--processes needs --bus-url amqp://...: memory:// is in-process")
    if not str(options["database_url"] or "").startswith("postgresql"):
        raise click.UsageError("--processes needs --database-url postgresql+asyncpg://...")
    return counts


@main.command()
def keygen() -> None:
    """Print a fresh `security.secret_key`."""
    from gateway.crypto import generate_key

    click.echo(generate_key())


def _register_fuzz() -> None:
    from benchmarks.fuzz import fuzz

    main.add_command(fuzz)


_register_fuzz()
from gateway.ops.cli import register as register_operations  # noqa: E402  (needs the above)

register_operations(main)
main.add_command(kb_cli.kb)

if __name__ == "__main__":
    main()
