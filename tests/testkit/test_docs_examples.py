"""The examples of docs/testing-your-bot.md, run as a user runs them: each file alone in an
empty folder with the pytest settings the page documents, against the installed SDKs, with
botgate's plugin found through its entry point (no conftest of ours)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[2] / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("test_*.py"))
PAGE = DOCS / "testing-your-bot.md"


def documented_settings() -> str:
    """The pytest.ini the page tells users to write."""
    match = re.search(r"```ini\n(\[pytest\].*?)```", PAGE.read_text(), re.DOTALL)
    assert match, "docs/testing-your-bot.md lost its pytest.ini block"
    return match.group(1)


def run_alone(tmp_path: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    for file in files:
        shutil.copy(file, tmp_path / file.name)
    (tmp_path / "pytest.ini").write_text(documented_settings())
    return subprocess.run(  # noqa: S603 - this interpreter, our own files
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         *(file.name for file in files)],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
    )


def test_there_is_one_example_per_sdk_and_mode() -> None:
    assert [path.stem for path in EXAMPLES] == [
        "test_bolt_http", "test_bolt_socket_mode", "test_discord_slash", "test_ptb_polling",
        "test_ptb_webhook",
    ]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_the_example_passes(example: Path, tmp_path: Path) -> None:
    result = run_alone(tmp_path, example)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_the_page_shows_the_example_as_it_is(example: Path) -> None:
    block = f"<!-- example: examples/{example.name} -->\n```python\n{example.read_text()}```"
    assert block in PAGE.read_text(), f"{example.name} differs from its copy in {PAGE.name}"
