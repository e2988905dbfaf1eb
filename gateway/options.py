"""Click options shared by the command groups (gateway/cli.py and the groups it adds)."""

from __future__ import annotations

import click

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML file (default: $BOTGATE_CONFIG, then ./botgate.toml, then built-in defaults).",
)
