"""The `botgate` command, run as users run it: in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from gateway.crypto import generate_key
from store import migrate

ALL_REVISIONS = [r.revision for r in reversed(list(migrate._scripts().walk_revisions()))]
HEAD = ALL_REVISIONS[-1]


def botgate(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BOTGATE_")}
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "gateway", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**environment, **(env or {})},
        check=False,
    )


def config(tmp_path: Path, database: str | None = None) -> Path:
    path = tmp_path / "botgate.toml"
    default_database = f"sqlite+aiosqlite:///{tmp_path / 'bg.db'}"
    path.write_text(f"""
[database]
url = "{database or default_database}"
[security]
secret_key = "{generate_key()}"
[[bots]]
name = "helpdesk"
tools = ["help"]
[bots.generic]
secret = "a-long-enough-secret"
""")
    return path


def test_keygen_prints_a_usable_key(tmp_path: Path) -> None:
    result = botgate("keygen", cwd=tmp_path)
    assert result.returncode == 0
    Fernet(result.stdout.strip().encode())  # raises if it is not a valid key


def test_check_creates_nothing_and_fails_until_the_database_is_migrated(tmp_path: Path) -> None:
    path = config(tmp_path)
    fresh = botgate("check", "--config", str(path), cwd=tmp_path)
    assert fresh.returncode == 1
    assert "bg.db does not exist yet; `botgate migrate up` creates it" in fresh.stdout
    assert "bus: ok" in fresh.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["botgate.toml"]

    migrated = botgate("migrate", "up", "--config", str(path), cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert f"at {HEAD}" in migrated.stdout

    ready = botgate("check", "--config", str(path), cwd=tmp_path)
    assert ready.returncode == 0, ready.stdout
    assert "database: ok" in ready.stdout

    assert botgate("migrate", "down", "base", "--config", str(path), cwd=tmp_path).returncode == 0
    pending = botgate("check", "--config", str(path), cwd=tmp_path)
    assert pending.returncode == 1
    assert f"has pending migrations ({', '.join(ALL_REVISIONS)})" in pending.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bg.db", "botgate.toml"]


def test_check_reports_an_unreachable_database(tmp_path: Path) -> None:
    path = config(tmp_path, "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    result = botgate("check", "--config", str(path), cwd=tmp_path)
    assert result.returncode != 0
    assert "database: FAIL" in result.stdout
    assert "connection refused; is PostgreSQL running there?" in result.stdout


def test_check_reports_an_unreachable_bus(tmp_path: Path) -> None:
    path = config(tmp_path)
    result = botgate(
        "check",
        "--config",
        str(path),
        cwd=tmp_path,
        env={"BOTGATE_BUS_URL": "amqp://guest:guest@127.0.0.1:1/"},
    )
    assert result.returncode != 0
    assert "bus: FAIL" in result.stdout


def test_invalid_config_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "botgate.toml"
    path.write_text('[[bots]]\nname = "NO SPACES"\n')
    result = botgate("check", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert "bots[0].name = 'NO SPACES'" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_down_and_status(tmp_path: Path) -> None:
    path = config(tmp_path)
    assert botgate("migrate", "up", "--config", str(path), cwd=tmp_path).returncode == 0
    down = botgate("migrate", "down", "base", "--config", str(path), cwd=tmp_path)
    assert down.returncode == 0
    assert f"pending: {', '.join(ALL_REVISIONS)}" in down.stdout
    status = botgate("migrate", "status", "--config", str(path), cwd=tmp_path)
    assert "at base" in status.stdout


def test_chat_talks_to_the_bot_through_the_pipeline(tmp_path: Path) -> None:
    path = config(tmp_path)
    result = botgate(
        "chat", "--config", str(path), "--bot", "helpdesk", cwd=tmp_path, stdin="/help\n/nope\n"
    )
    assert result.returncode == 0, result.stderr
    assert "helpdesk> Here is what I can do:" in result.stdout
    assert "helpdesk> Sorry, I don't know that yet." in result.stdout  # the fallback reply
    assert (
        botgate("migrate", "status", "--config", str(path), cwd=tmp_path).stdout.count(f"at {HEAD}")
        == 1
    )
