from __future__ import annotations

import pytest

from adapters.telegram.format import escape, to_markdown_v2
from botgate.testing.telegram_text import parse_markdown_v2

RESERVED = "_*[]()~`>#+-=|{}.!\\"


@pytest.mark.parametrize(
    "text",
    [
        RESERVED,
        "Price: 1.5 EUR (incl. VAT) - 20% off! #deal",
        "snake_case_name and 2*3=6 and a ~ b | c {d}",
        "> not a quote in plain text",
        "tab\tand\nnewline and emoji 👍🏽 and ünïcödé",
    ],
)
def test_escaped_plain_text_parses_back_to_itself(text: str) -> None:
    plain, entities = parse_markdown_v2(escape(text))
    assert (plain, entities) == (text, [])


@pytest.mark.parametrize(
    "text",
    [
        "Refunds take 14 days. Call +49 (0) 30-1234!",
        "2 * 3 = 6 and a_b_c and **unclosed bold",
        "_a *b* c_ and **x _y_ z**",
        "[a link](https://example.com/path_(x)) [t](https://e.x/a)",
        "```\nunclosed code",
        "`tick` and ``double`` and ~~gone~~",
    ],
)
def test_any_markdown_renders_to_valid_markdown_v2(text: str) -> None:
    parse_markdown_v2(to_markdown_v2(text))  # raises ApiError 400 when Telegram would refuse it


def test_markdown_styles_become_telegram_entities() -> None:
    rendered = to_markdown_v2("**Bold** and _it_, `co*de` [docs](https://x.example/a)")
    plain, entities = parse_markdown_v2(rendered)
    assert plain == "Bold and it, co*de docs"
    assert [(e["type"], plain[e["offset"] : e["offset"] + e["length"]]) for e in entities] == [
        ("bold", "Bold"),
        ("italic", "it"),
        ("code", "co*de"),
        ("text_link", "docs"),
    ]
    assert entities[-1]["url"] == "https://x.example/a"


def test_code_blocks_keep_their_language_and_text() -> None:
    plain, entities = parse_markdown_v2(to_markdown_v2("Run:\n```python\nprint('a`b\\\\c')\n```"))
    assert plain == "Run:\nprint('a`b\\\\c')"
    assert entities == [{"offset": 5, "length": 15, "type": "pre", "language": "python"}]


def test_headings_bullets_and_quotes() -> None:
    plain, entities = parse_markdown_v2(to_markdown_v2("# Refunds\n- within 14 days.\n> quoted"))
    assert plain == "Refunds\n• within 14 days.\nquoted"
    assert [e["type"] for e in entities] == ["bold", "blockquote"]
