from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.config import load_settings, parse_duration
from gateway.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "botgate.toml"
    path.write_text(text)
    return path


def test_built_in_defaults_are_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOTGATE_CONFIG", raising=False)
    settings = load_settings(environ={})
    assert settings.database.url == "sqlite+aiosqlite:///botgate.db"
    assert settings.bus.url == "memory://"
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.source == "built-in defaults"


def test_env_references_expand_and_overrides_win(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[database]
url = "sqlite+aiosqlite:///file.db"
[[bots]]
name = "helpdesk"
[bots.generic]
secret = "${HOOK_SECRET}"
""",
    )
    env = {
        "HOOK_SECRET": "s3cret-value",
        "BOTGATE_DATABASE_URL": "postgresql+asyncpg://db/x",
        "BOTGATE_PORT": "9000",
    }
    settings = load_settings(path, environ=env)
    assert settings.bots[0].generic is not None
    assert settings.bots[0].generic.secret == "s3cret-value"
    assert settings.database.url == "postgresql+asyncpg://db/x"
    assert settings.server.port == 9000


def test_missing_environment_variable_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[security]\nsecret_key = "${NOT_SET_ANYWHERE}"\n')
    with pytest.raises(
        ConfigError, match=r"security\.secret_key = .*: environment variable NOT_SET_ANYWHERE"
    ):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[bots]]\nname = "Bad Name"\n', r"bots\[0\]\.name = 'Bad Name'.*: must match"),
        ('[server]\nport = "eighty"\n', r"server\.port = 'eighty'"),
        ("[server]\nprot = 1\n", r"unknown key server\.prot in .*; did you mean server\.port\?"),
        ('[sessions]\nidle_timeout = "soon"\n', r"sessions\.idle_timeout.*duration"),
        ('[[bots]]\nname = "a"\n[[bots]]\nname = "a"\n', "unique; repeated: a"),
        (
            '[[bots]]\nname = "a"\n[bots.telegram]\nmode = "webhook"\n',
            r"bots\[0\]\.telegram\.token in .* is missing; it is required",
        ),
        ("[server\n", "not valid TOML"),
        ('[sends]\nretry_delays = ["1m", "1s"]\n', r"sends\.retry_delays.*must not shrink"),
        ('[sends]\nretry_delays = "1s"\n', r"sends\.retry_delays.*as a list"),
        ('[sends]\nretry_delays = ["1s", "soon"]\n', r"sends\.retry_delays.*duration"),
        ('[sends]\nretry_for = "100ms"\n', r"sends.*retry_for is shorter"),
        ('[adapters]\nlease_ttl = "10ms"\n', r"adapters.*lease_ttl must be at least 1s"),
    ],
)
def test_invalid_config_says_which_key_and_why(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, toml), environ={})


def test_config_file_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: no such file"):
        load_settings(tmp_path / "nope.toml", environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("90d", timedelta(days=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("1.5s", timedelta(seconds=1.5)),
        (12, timedelta(seconds=12)),
    ],
)
def test_durations(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_an_unreadable_config_file_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[server]\n")

    def refuse(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refuse)  # as for a file of another user (not root)
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ={})
    assert str(raised.value) == (
        f"config file {path} cannot be read (permission denied); make it readable by this "
        "user or pass another with --config"
    )


@pytest.mark.parametrize(
    ("url", "taken"),
    [
        ("postgres://u:p@db/x", "postgresql+asyncpg://u:p@db/x"),
        ("postgresql://u@db:5433/x", "postgresql+asyncpg://u@db:5433/x"),
        ("postgresql+asyncpg://u@db/x", "postgresql+asyncpg://u@db/x"),
        ("sqlite:///botgate.db", "sqlite+aiosqlite:///botgate.db"),
        ("sqlite+aiosqlite://", "sqlite+aiosqlite://"),
    ],
)
def test_database_urls_people_write_are_taken_as_botgate_speaks(
    url: str, taken: str, tmp_path: Path
) -> None:
    settings = load_settings(write(tmp_path, ""), environ={"BOTGATE_DATABASE_URL": url})
    assert settings.database.url == taken


def test_reply_wait_cannot_exceed_its_maximum(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nreply_wait = "1m"\n')
    with pytest.raises(ConfigError, match=r"\[server\] in .*: reply_wait \(60s\) is longer than "):
        load_settings(path, environ={})
