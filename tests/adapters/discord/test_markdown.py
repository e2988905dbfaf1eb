"""Markdown -> Discord's Markdown."""

from __future__ import annotations

import pytest

from adapters.discord.markdown import to_discord


@pytest.mark.parametrize(
    ("markdown", "discord"),
    [
        ("Refunds take **14 days**.", "Refunds take **14 days**."),
        ("*it* and _it_ and ~~gone~~", "*it* and *it* and ~~gone~~"),
        ("# One\n## Two\n#### Four", "# One\n\n## Two\n\n**Four**"),
        ("[docs](https://x.example/a_b)", "[docs](<https://x.example/a_b>)"),
        ("![chart](https://x.example/c.png)", "[chart](https://x.example/c.png)"),
        ("snake_case_name and 2 * 3", "snake\\_case\\_name and 2 \\* 3"),
        ("- one\n  - nested\n- two", "- one\n  - nested\n- two"),
        ("> quoted **text**", "> quoted **text**"),
        ("```py\nprint('**x**')\n```", "```py\nprint('**x**')\n```"),
        ("`a*b`", "`a*b`"),
        ("| a | b |\n|---|---|\n| 1 | 2 |", "```\na | b\n--+--\n1 | 2\n```"),
    ],
)
def test_to_discord(markdown: str, discord: str) -> None:
    assert to_discord(markdown) == discord
