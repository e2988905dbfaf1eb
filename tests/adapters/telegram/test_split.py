from __future__ import annotations

from adapters.telegram.format import to_markdown_v2
from adapters.telegram.split import MAX_TEXT, split_text, utf16_len
from botgate.testing.telegram_text import parse_markdown_v2


def test_a_short_text_is_one_part() -> None:
    assert split_text("hello") == ["hello"]


def test_long_texts_split_at_paragraph_ends() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 300 for i in range(12)]
    parts = split_text("\n\n".join(paragraphs))
    assert len(parts) > 1
    assert all(utf16_len(part) <= MAX_TEXT for part in parts)
    assert all(part.rstrip().endswith("word") for part in parts)
    assert "\n\n".join(parts).split() == "\n\n".join(paragraphs).split()


def test_without_paragraphs_it_splits_after_sentences() -> None:
    text = " ".join(f"Sentence number {i} says something." for i in range(400))
    parts = split_text(text)
    assert len(parts) >= 3
    assert all(utf16_len(part) <= MAX_TEXT and part.endswith(".") for part in parts)
    assert " ".join(parts) == text


def test_characters_outside_the_bmp_count_twice() -> None:
    parts = split_text("😀" * 3000)
    assert [utf16_len(part) for part in parts] == [4096, 1904]


def test_a_code_block_cut_in_two_is_closed_and_reopened() -> None:
    code = "\n".join(f"print({i})  # line" for i in range(600))
    parts = split_text(f"Here:\n```python\n{code}\n```\nDone.", markdown=True)
    assert len(parts) > 1
    for part in parts:
        assert part.count("```") % 2 == 0
        plain, _ = parse_markdown_v2(to_markdown_v2(part))
        assert utf16_len(plain) <= MAX_TEXT
    assert parts[1].startswith("```python\n")
