"""Parsers and passages: structure, sizes, encodings, and what an imported file may not do."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from gateway.kb.documents import Block, ParsedDocument
from gateway.kb.errors import DocumentError, EmptyDocument
from gateway.kb.formats import parse
from gateway.kb.passages import split


def test_passages_stay_under_their_heading_and_within_the_size() -> None:
    sentences = " ".join(f"Sentence number {i} says something about topic {i}." for i in range(80))
    document = ParsedDocument(
        "Guide",
        (
            Block(("Guide", "Install"), sentences),
            Block(("Guide", "Install"), "A short closing paragraph."),
            Block(("Guide", "Use"), "Run it."),
        ),
    )
    passages = split(document, max_chars=400, overlap=100)
    assert {p.heading for p in passages} == {"Install", "Use"}  # the title's heading left out
    assert all(len(p.text) <= 400 for p in passages)
    install = [p.text for p in passages if p.heading == "Install"]
    assert len(install) >= 6
    for before, after in itertools.pairwise(install):
        carried = after.split(". ")[0]
        assert carried in before  # the overlap: the previous passage's last sentence
    assert passages[-1].text == "Run it."
    assert all(p.title == "Guide" for p in passages)


def test_a_word_longer_than_a_passage_is_cut() -> None:
    document = ParsedDocument("T", (Block((), "x" * 2500),))
    lengths = [len(p.text) for p in split(document, max_chars=1000)]
    assert sum(lengths) == 2500
    assert max(lengths) <= 1000


def test_markdown_title_lists_tables_and_code() -> None:
    source = (
        "# Setup\n\nIntro with a [link](http://x) and `code`.\n\n- first item\n- second item\n\n"
        "| key | value |\n|---|---|\n| port | 8080 |\n\n```\nbotgate serve\n```\n"
    )
    document = parse("setup.md", source.encode())
    texts = [block.text for block in document.blocks]
    assert document.title == "Setup"
    assert "Intro with a link and code." in texts
    assert {"first item", "second item", "port 8080", "botgate serve"} <= set(texts)


def test_html_in_a_declared_charset_and_without_a_main_element() -> None:
    page = (
        '<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head><body>'
        '<div class="navbar">Menu</div><h2>Men\xfc</h2><p>Cr\xe8me br\xfbl\xe9e</p></body></html>'
    ).encode("latin-1")
    document = parse("cafe.html", page)
    assert document.title == "Café"
    assert document.blocks == (Block(("Menü",), "Crème brûlée"),)


def test_rst_cannot_include_other_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the database password")
    source = f"Title\n=====\n\nBefore.\n\n.. include:: {secret}\n\n.. raw:: html\n\n   <b>x</b>\n"
    document = parse("page.rst", source.encode())
    assert "password" not in document.text
    assert "Before." in document.text


def test_unreadable_inputs_say_why() -> None:
    with pytest.raises(DocumentError, match="unsupported file type"):
        parse("notes.docx", b"PK")
    with pytest.raises(EmptyDocument):
        parse("empty.md", b"\n\n")
    with pytest.raises(DocumentError, match="not UTF-8"):
        parse("notes.rst", b"Caf\xe9")
