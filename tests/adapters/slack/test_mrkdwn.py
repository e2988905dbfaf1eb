"""Markdown -> Slack mrkdwn."""

from __future__ import annotations

import pytest

from adapters.slack.mrkdwn import escape, to_mrkdwn


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and *italic*", "*bold* and _italic_"),
        ("__bold__ and _italic_", "*bold* and _italic_"),
        ("~~gone~~", "~gone~"),
        ("# Refunds", "*Refunds*"),
        ("## Refunds ##", "*Refunds*"),
        (
            "[the policy](https://example.com/a_b_c?x=1&y=2)",
            "<https://example.com/a_b_c?x=1&amp;y=2|the policy>",
        ),
        ("![chart](https://example.com/c.png)", "<https://example.com/c.png|chart>"),
        ("- one\n- two\n  * nested", "• one\n• two\n  • nested"),
        ("> quoted **text**", "> quoted *text*"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("`**not bold** <x>`", "`**not bold** &lt;x&gt;`"),
        ("```\n# not a heading\n**x**\n```", "```\n# not a heading\n**x**\n```"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("snake_case_name stays", "snake_case_name stays"),
        ("plain text", "plain text"),
    ],
)
def test_to_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def test_escape() -> None:
    assert escape("<@U123> & <!channel>") == "&lt;@U123&gt; &amp; &lt;!channel&gt;"


def test_what_models_write_nested_lists_tables_and_paragraphs() -> None:
    markdown = (
        "## Steps\n\n1. Check the **order**\n   - its number\n   - its date\n2. Refund it\n\n"
        "| plan | days |\n|---|---|\n| basic | 14 |\n| pro | 30 |\n\nDone <3"
    )
    assert to_mrkdwn(markdown) == (
        "*Steps*\n\n1. Check the *order*\n  • its number\n  • its date\n2. Refund it\n\n"
        "```\nplan  | days\n------+-----\nbasic | 14\npro   | 30\n```\n\nDone &lt;3"
    )
