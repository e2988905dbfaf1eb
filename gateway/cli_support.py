"""What every `botgate` command shares: the `--config` option, running a coroutine, and the
error line.

A user's mistake or a refusal from the outside world ends the command with one line on
stderr, `botgate: <what is wrong; what to do>`, and exit status 2 (arguments, configuration)
or 1 (the database, the broker, the port, anything else at run time). A traceback is shown
only with `botgate --debug` (or BOTGATE_DEBUG=1). Command modules raise `BotgateError`s (or
click's exceptions) and let them through.
"""

from __future__ import annotations

import asyncio
import re
import sys
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import click
from click.core import ParameterSource

from gateway.config import Settings, load_settings
from gateway.errors import BotgateError
from gateway.logs import use_format

INTERRUPTED = 130  # as a shell reports a command ended by SIGINT

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML file (default: $BOTGATE_CONFIG, then ./botgate.toml, then built-in defaults).",
)


def settings_from(config_path: str | None) -> Settings:
    """The configuration; a mistake in it ends the command with its one line (exit 2). Logs
    take the format it asks for from here on."""
    settings = load_settings(config_path)
    use_format(settings.server.log_format)
    return settings


def run(main: Callable[[], Awaitable[int]]) -> None:
    """Run a command's coroutine on uvloop when present and exit with its status."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    sys.exit(runner(main()))


class BotgateGroup(click.Group):
    """The `botgate` group: every failure becomes the one error line and its exit status."""

    debug = False

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        self.debug = False
        try:
            status = super().main(args, prog_name or "botgate", complete_var, False, **extra)
        except SystemExit:
            raise
        except BaseException as exc:
            status = self.report(exc)
        sys.exit(status if isinstance(status, int) else 0)

    def report(self, exc: BaseException) -> int:
        """Print the one line for `exc` (and with --debug its traceback); the exit status."""
        if isinstance(exc, KeyboardInterrupt | click.Abort):
            _say("interrupted")
            return INTERRUPTED
        if self.debug and not isinstance(exc, click.ClickException):
            traceback.print_exception(exc)
        if isinstance(exc, click.ClickException):
            _say(exc.format_message() + _help_hint(exc))
            return exc.exit_code
        if isinstance(exc, BotgateError):
            _say(str(exc))
            return exc.exit_code
        _say(
            f"unexpected error: {type(exc).__name__}: {exc}; run again with --debug for the "
            "traceback and report it"
        )
        return 1


def set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    """The `--debug` callback: eager, so it counts even when a later option is wrong."""
    root = ctx.find_root().command
    if isinstance(root, BotgateGroup):
        root.debug = value
    return value


def _help_hint(exc: click.ClickException) -> str:
    if not isinstance(exc, click.UsageError) or exc.ctx is None:
        return ""
    param = exc.param if isinstance(exc, click.BadParameter) else None
    if param is not None and param.name and isinstance(param, click.Option):
        source = exc.ctx.get_parameter_source(param.name)
        if source is ParameterSource.ENVIRONMENT and param.envvar:
            return f" (set by {param.envvar})"
    return f" (see `{exc.ctx.command_path} --help`)"


def _say(message: str) -> None:
    line = re.sub(r"\s*\n\s*", " ", message.strip())
    click.echo(f"botgate: {line}", err=True)
