"""Markdown -> Telegram plain text + entities: the same inputs the MarkdownV2 converter was
tested with, now checked for what Telegram shows (the emulator stores the entities as sent)."""

from __future__ import annotations

import pytest

from adapters.split import MAX_TEXT, utf16_len
from adapters.telegram.format import Formatted, parts, render

RESERVED = "_*[]()~`>#+-=|{}.!\\"


def spans(formatted: Formatted) -> list[tuple[str, str]]:
    text = formatted.text.encode("utf-16-le")
    return [
        (e["type"], text[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le"))
        for e in formatted.entities
    ]


def well_formed(formatted: Formatted) -> bool:
    size = utf16_len(formatted.text)
    return all(
        e["length"] > 0 and e["offset"] >= 0 and e["offset"] + e["length"] <= size
        for e in formatted.entities
    )


@pytest.mark.parametrize(
    "text",
    [
        "Price: 1.5 EUR (incl. VAT) - 20% off! #deal",
        "snake_case_name and 2*3=6 and a ~ b | c {d}",
        "tab\tand emoji 👍🏽 and ünïcödé",
    ],
)
def test_plain_text_stays_itself(text: str) -> None:
    assert render(text) == Formatted(text)
    assert render(RESERVED, markdown=False) == Formatted(RESERVED)


@pytest.mark.parametrize(
    "text",
    [
        "Refunds take 14 days. Call +49 (0) 30-1234!",
        "2 * 3 = 6 and a_b_c and **unclosed bold",
        "_a *b* c_ and **x _y_ z**",
        "[a link](https://example.com/path_(x)) [t](https://e.x/a)",
        "```\nunclosed code",
        "`tick` and ``double`` and ~~gone~~",
        RESERVED,
        "| a | b |\n|---|---|\n| 1 | 2 |",
        "1. one\n   - nested *x*\n2. two",
    ],
)
def test_any_markdown_renders_to_well_formed_entities(text: str) -> None:
    formatted = render(text)
    assert formatted.text.strip()
    assert well_formed(formatted)


def test_markdown_styles_become_telegram_entities() -> None:
    formatted = render("**Bold** and _it_, `co*de` [docs](https://x.example/a)")
    assert formatted.text == "Bold and it, co*de docs"
    assert spans(formatted) == [
        ("bold", "Bold"),
        ("italic", "it"),
        ("code", "co*de"),
        ("text_link", "docs"),
    ]
    assert formatted.entities[-1]["url"] == "https://x.example/a"


def test_code_blocks_keep_their_language_and_text() -> None:
    formatted = render("Run:\n```python\nprint('a`b\\\\c')\n```")
    assert formatted.text.startswith("Run:\n")
    [pre] = [e for e in formatted.entities if e["type"] == "pre"]
    assert pre["language"] == "python"
    assert spans(formatted)[-1] == ("pre", "print('a`b\\\\c')")


def test_headings_bullets_and_quotes() -> None:
    formatted = render("# Refunds\n- within 14 days.\n> quoted")
    assert formatted.text == "Refunds\n• within 14 days.\nquoted"
    assert ("bold", "Refunds") in spans(formatted)
    assert ("blockquote", "quoted") in spans(formatted)


def test_a_long_answer_splits_into_parts_with_their_entities() -> None:
    paragraph = "A **bold start** and then " + "words " * 120
    formatted = parts("\n\n".join(f"{i}. {paragraph}" for i in range(30)))
    assert len(formatted) > 1
    for part in formatted:
        assert utf16_len(part.text) <= MAX_TEXT
        assert well_formed(part)
        assert ("bold", "bold start") in spans(part)


def test_an_entity_cut_in_two_is_kept_on_both_sides() -> None:
    code = "\n".join(f"print({i})  # line" for i in range(600))
    formatted = parts(f"Here:\n```python\n{code}\n```\nDone.")
    assert len(formatted) > 1
    assert all(well_formed(part) for part in formatted)
    assert formatted[0].entities[-1]["type"] == "pre"
    assert formatted[1].entities[0]["type"] == "pre"
    assert formatted[1].entities[0]["offset"] == 0
