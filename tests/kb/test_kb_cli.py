"""`botgate kb ...` run as people run it: in a subprocess."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.kb.conftest import write_handbook
from tests.test_cli import botgate, config


def test_import_search_list_delete(tmp_path: Path) -> None:
    path = str(config(tmp_path))
    docs = write_handbook(tmp_path / "docs")
    imported = botgate("kb", "import", "handbook", str(docs), "--config", path, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("handbook: 5 new, 0 changed, 0 unchanged, 0 failed;")
    assert "new refunds.md (2 passages)" in imported.stderr  # plain lines: not a terminal

    search = botgate(
        "kb", "search", "handbook", "gift card refunds", "--json", "--limit", "3",
        "--config", path, cwd=tmp_path,
    )  # fmt: skip
    assert search.returncode == 0, search.stderr
    lines = [json.loads(line) for line in search.stdout.splitlines()]
    assert [line["rank"] for line in lines] == [1, 2, 3]
    assert set(lines[0]) == {"rank", "document", "title", "heading", "score", "text"}
    assert (lines[0]["document"], lines[0]["heading"]) == ("refunds.md", "Refunds > Exceptions")

    listed = botgate("kb", "list", "--config", path, cwd=tmp_path)
    assert listed.stdout.split("\n")[1].split()[:4] == ["handbook", "default", "5", "8"]
    documents = botgate("kb", "list", "handbook", "--config", path, cwd=tmp_path)
    assert "shipping/europe.txt" in documents.stdout

    again = botgate("kb", "import", "handbook", str(docs), "--config", path, cwd=tmp_path)
    assert again.stdout.startswith("handbook: 0 new, 0 changed, 5 unchanged, 0 failed;")

    one = botgate("kb", "delete", "handbook", "refunds.md", "--config", path, cwd=tmp_path)
    assert one.stdout.strip() == "deleted refunds.md from handbook"
    gone = botgate("kb", "delete", "handbook", "refunds.md", "--config", path, cwd=tmp_path)
    assert gone.returncode == 1
    assert "no document 'refunds.md' in collection handbook" in gone.stderr
    whole = botgate("kb", "delete", "handbook", "--config", path, cwd=tmp_path)
    assert whole.stdout.strip() == "deleted collection handbook (4 documents, 6 passages)"
    assert "no collections yet" in botgate("kb", "list", "--config", path, cwd=tmp_path).stdout


def test_a_bad_file_is_named_and_the_import_exits_1(tmp_path: Path) -> None:
    path = str(config(tmp_path))
    docs = write_handbook(tmp_path / "docs")
    (docs / "legacy.txt").write_bytes(b"\xff\xfeold")
    result = botgate("kb", "import", "handbook", str(docs), "--config", path, cwd=tmp_path)
    assert result.returncode == 1
    assert "FAILED legacy.txt: not UTF-8 text (byte 0xff at offset 0)" in result.stderr
    assert "5 new, 0 changed, 0 unchanged, 1 failed" in result.stdout
    assert "Traceback" not in result.stderr


def test_read_only_commands_create_no_file_and_no_table(tmp_path: Path) -> None:
    path = str(config(tmp_path))
    database = tmp_path / "bg.db"
    for command in (["list"], ["search", "handbook", "refunds"]):
        result = botgate("kb", *command, "--config", path, cwd=tmp_path)
        assert result.returncode == 1
        assert f"the file {database} does not exist yet" in result.stderr
        assert not database.exists()
    sqlite3.connect(database).close()  # an empty file: not migrated
    result = botgate("kb", "search", "handbook", "refunds", "--config", path, cwd=tmp_path)
    assert result.returncode == 1
    assert "has pending migrations (0001, " in result.stderr
    tables = sqlite3.connect(database).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == []


def test_bad_questions_and_arguments_get_one_line(tmp_path: Path) -> None:
    path = str(config(tmp_path))
    docs = write_handbook(tmp_path / "docs")
    botgate("kb", "import", "handbook", str(docs), "--config", path, cwd=tmp_path)
    cases = {
        ("kb", "search", "handbook", "the and of"): "only stop words or punctuation",
        ("kb", "search", "nope", "refunds"): "no collection nope",
        ("kb", "search", "bad name!", "refunds"): "is not a collection name",
        ("kb", "import", "handbook", str(docs), "--language", "klingon"): "unknown language",
    }
    for command, message in cases.items():
        result = botgate(*command, "--config", path, cwd=tmp_path)
        assert result.returncode != 0
        assert message in result.stderr
        assert "Traceback" not in result.stderr


def test_eval_prints_recall_and_mrr(tmp_path: Path) -> None:
    path = str(config(tmp_path))
    docs = write_handbook(tmp_path / "docs")
    botgate("kb", "import", "handbook", str(docs), "--config", path, cwd=tmp_path)
    questions = tmp_path / "eval.jsonl"
    questions.write_text(
        '{"query": "when do refunds arrive", "documents": ["refunds.md"]}\n'
        '{"query": "phone number of the hotline", "documents": ["support.html"]}\n'
        '{"query": "banana bread", "documents": ["recipes.md"]}\n'
    )
    result = botgate("kb", "eval", "handbook", str(questions), "--k", "1", "--config", path,
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "queries": 3, "k": 1, "recall_at_k": 0.6667, "mrr": 0.6667
    }  # fmt: skip
    questions.write_text('{"query": "x"}\n')
    bad = botgate("kb", "eval", "handbook", str(questions), "--config", path, cwd=tmp_path)
    assert bad.returncode == 1
    assert f"{questions}:1: expected" in bad.stderr
