"""The README is for people who run botgate: every configuration key is in it with its
default, its links lead somewhere, its set-up commands are the ones CI runs, and it speaks
of no document a user does not have."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_origin

import pytest
from pydantic import BaseModel

from gateway.config import Settings
from gateway.config_errors import model_in

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def config_keys(model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    """Every key of the configuration file, as `section.key` (`bots.telegram.token`)."""
    keys = []
    for name, info in model.model_fields.items():
        if name == "source":
            continue
        inner = model_in(info.annotation)
        table = (
            f"{prefix}{name}.NAME." if get_origin(info.annotation) is dict else f"{prefix}{name}."
        )
        keys += config_keys(inner, table) if inner else [f"{prefix}{name}"]
    return keys


@pytest.mark.parametrize("key", config_keys())
def test_every_config_key_has_a_row_with_its_default(key: str) -> None:
    row = re.search(rf"^\| `{re.escape(key)}` \| ([^|]+) \|", README, re.MULTILINE)
    assert row, f"no row for {key} in the README's configuration tables"
    assert row[1].strip(), f"no default for {key}"


def test_the_set_up_commands_are_the_ones_ci_runs() -> None:
    ci = (ROOT / ".ci/run").read_text()
    serve = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/botgate serve"
    test = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest"
    assert f"\n{serve}\n" in README
    assert f"\n{test}\n" in README
    assert test in ci


def test_links_lead_to_files_and_headings() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", README, re.MULTILINE)
    }
    for target in re.findall(r"\]\(([^)]+)\)", README):
        if target.startswith("#"):
            assert target[1:] in anchors, target
        elif not target.startswith("http"):
            assert (ROOT / target).is_file(), target


@pytest.mark.parametrize("document", ["README.md", "docs/design.md", "docs/benchmark.md"])
def test_no_document_users_do_not_have(document: str) -> None:
    text = (ROOT / document).read_text()
    assert not re.search(r"\bcontract\b", text, re.IGNORECASE)
    assert not re.search(r"\bissues? #?\d+|#\d{2,}\b|CONTRACT\.md|STYLE\.md", text)
