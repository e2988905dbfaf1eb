from __future__ import annotations

from adapters.split import MAX_TEXT, split_text, utf16_len


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


def test_indentation_after_a_line_break_is_kept() -> None:
    lines = ["x" * 80] * 60 + ["    indented"] * 20
    parts = split_text("\n".join(lines), limit=4900)
    assert parts[1].startswith("    indented") or parts[0].endswith("    indented")
