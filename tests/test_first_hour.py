"""The mistakes of a first hour, each made through the real `botgate` command: one line on
stderr that names the key or argument and says what to do, no traceback, exit status 2 for
arguments and configuration and 1 for what the outside world refused, and no file created."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.crypto import generate_key
from tests.test_cli import botgate

BOT = """
[[bots]]
name = "demo"
[bots.generic]
secret = "a-long-enough-secret"
"""
UNREACHABLE_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/botgate"


@dataclass
class Mistake:
    args: list[str]
    says: str  # a regular expression the one line must match
    status: int
    config: str | bytes | None = None  # written to ./botgate.toml
    env: dict[str, str] = field(default_factory=dict)
    hidden: str | None = None  # a secret the line must not show


def make(tmp_path: Path, mistake: Mistake) -> subprocess.CompletedProcess[str]:
    """Make the mistake in an empty folder; the folder must hold no new file afterwards."""
    if isinstance(mistake.config, str):
        (tmp_path / "botgate.toml").write_text(mistake.config)
    elif isinstance(mistake.config, bytes):
        (tmp_path / "botgate.toml").write_bytes(mistake.config)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = botgate(*mistake.args, cwd=tmp_path, env=mistake.env)
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "a file was created"
    return result


def assert_one_line(result: subprocess.CompletedProcess[str], mistake: Mistake) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.returncode == mistake.status, result.stderr
    assert lines[0].startswith("botgate: ")
    assert re.search(mistake.says, lines[0]), lines[0]
    if mistake.hidden:
        assert mistake.hidden not in lines[0]
    return lines[0]


MISTAKES = {
    "malformed database URL": Mistake(
        ["serve"],
        r"database\.url = 'notaurl' \(from BOTGATE_DATABASE_URL\): not a URL; write it like "
        r"postgresql\+asyncpg://",
        2,
        env={"BOTGATE_DATABASE_URL": "notaurl"},
    ),
    "unsupported database": Mistake(
        ["serve"],
        r"database\.url = 'mysql://bot:\*\*\*@db/bots' in botgate\.toml: unsupported database "
        r"mysql://; botgate runs on postgresql\+asyncpg://",
        2,
        config='[database]\nurl = "mysql://bot:hunter2@db/bots"\n',
        hidden="hunter2",
    ),
    "database driver": Mistake(
        ["check"],
        r"the driver of postgresql\+psycopg2:// is not supported; write postgresql\+asyncpg://",
        2,
        env={"BOTGATE_DATABASE_URL": "postgresql+psycopg2://bot@db/bots"},
    ),
    "malformed bus URL": Mistake(
        ["serve"],
        r"bus\.url = 'amqp://guest:\*\*\*@broker:fivesix/' in botgate\.toml: the port is not a "
        r"number; write it like amqp://",
        2,
        config='[bus]\nurl = "amqp://guest:hunter2@broker:fivesix/"\n',
        hidden="hunter2",
    ),
    "unsupported bus": Mistake(
        ["serve"],
        r"bus\.url = 'redis://cache:6379/0' \(from BOTGATE_BUS_URL\): unsupported scheme "
        r"redis://; use amqp://user:pass@host:5672/vhost",
        2,
        env={"BOTGATE_BUS_URL": "redis://cache:6379/0"},
    ),
    "unreachable database": Mistake(
        ["serve", "--port", "0"],
        r"database postgresql\+asyncpg://postgres@127\.0\.0\.1:1/botgate: connection refused; "
        r"is PostgreSQL running there\? check \[database\] url \(BOTGATE_DATABASE_URL\)",
        1,
        env={"BOTGATE_DATABASE_URL": UNREACHABLE_DATABASE, "BOTGATE_SECRET_KEY": generate_key()},
    ),
    "unreachable broker": Mistake(
        ["serve", "--port", "0"],
        r"RabbitMQ at amqp://guest:\*\*\*@127\.0\.0\.1:1/: connection refused; is RabbitMQ "
        r"running there\? check \[bus\] url \(BOTGATE_BUS_URL\)",
        1,
        config=BOT,
        env={"BOTGATE_BUS_URL": "amqp://guest:guest@127.0.0.1:1/"},
    ),
    "unknown role": Mistake(
        ["serve", "--role", "gatway"],
        r"Invalid value for '--role': 'gatway' is not one of 'all', 'gateway', 'core', "
        r"'adapters'.* \(see `botgate serve --help`\)",
        2,
    ),
    "split role on the in-process bus": Mistake(
        ["serve", "--role", "core"],
        r"--role core with bus\.url = 'memory://': the in-process bus does not reach the other "
        r"roles' processes; set \[bus\] url \(BOTGATE_BUS_URL\) to amqp://",
        2,
    ),
    "bad log level": Mistake(
        ["--log-level", "LOUD", "serve"],
        r"Invalid value for '--log-level': 'LOUD' is not one of .* \(see `botgate --help`\)",
        2,
    ),
    "bad log level in the environment": Mistake(
        ["check"],
        r"Invalid value for '--log-level': 'loud' .* \(set by BOTGATE_LOG_LEVEL\)",
        2,
        env={"BOTGATE_LOG_LEVEL": "loud"},
    ),
    "config that does not exist": Mistake(
        ["serve", "--config", "bogate.toml"],
        r"--config bogate\.toml: no such file; give an existing TOML file",
        2,
    ),
    "config that is a folder": Mistake(
        ["serve", "--config", "."],
        r"Invalid value for '--config': File '\.' is a directory",
        2,
    ),
    "config that is not TOML": Mistake(
        ["serve"],
        r"config file botgate\.toml is not valid TOML: .*\(at line 1, column 8\)",
        2,
        config="[server\nport = 1\n",
    ),
    "config that is not text": Mistake(
        ["serve"],
        r"config file botgate\.toml is not UTF-8 text; save it as UTF-8",
        2,
        config=b"[server]\nhost = '\xff\xfe'\n",
    ),
    "unknown key": Mistake(
        ["serve"],
        r"unknown key server\.prot in botgate\.toml; did you mean server\.port\?",
        2,
        config="[server]\nprot = 8081\n",
    ),
    "unknown section": Mistake(
        ["check"],
        r"unknown key sesions in botgate\.toml; did you mean sessions\?",
        2,
        config='[sesions]\nidle_timeout = "10m"\n',
    ),
    "unknown key in a bot": Mistake(
        ["serve"],
        r"unknown key bots\[0\]\.generic\.secrett in botgate\.toml; did you mean "
        r"bots\[0\]\.generic\.secret\?",
        2,
        config='[[bots]]\nname = "demo"\n[bots.generic]\nsecrett = "x"\n',
    ),
    "bad value": Mistake(
        ["serve"],
        r"bots\[0\]\.name = 'Help Desk' in botgate\.toml: must match",
        2,
        config='[[bots]]\nname = "Help Desk"\n',
    ),
    "missing environment variable": Mistake(
        ["serve"],
        r'bots\[0\]\.generic\.secret = "\$\{HOOK_SECRET\}" in botgate\.toml: environment '
        r"variable HOOK_SECRET is not set; export HOOK_SECRET=",
        2,
        config='[[bots]]\nname = "demo"\n[bots.generic]\nsecret = "${HOOK_SECRET}"\n',
    ),
    "secret in a bad value": Mistake(
        ["serve"],
        r"bots\[0\]\.generic\.secret = '\*\*\*' in botgate\.toml: string should have at least 8",
        2,
        config='[[bots]]\nname = "demo"\n[bots.generic]\nsecret = "short"\n',
        hidden="short",
    ),
    "no secret key with PostgreSQL": Mistake(
        ["serve"],
        r"security\.secret_key is not set; .*make one with `botgate keygen` and set "
        r"BOTGATE_SECRET_KEY",
        2,
        env={"BOTGATE_DATABASE_URL": UNREACHABLE_DATABASE},
    ),
    "secret key that is not a key": Mistake(
        ["serve"],
        r"security\.secret_key must be url-safe base64 of 32 bytes; make one with `botgate "
        r"keygen`",
        2,
        env={"BOTGATE_SECRET_KEY": "changeme"},
    ),
    "port out of range": Mistake(
        ["serve", "--port", "80800"],
        r"Invalid value for '--port': 80800 is not in the range 0<=x<=65535",
        2,
    ),
    "port out of range in the environment": Mistake(
        ["serve"],
        r"server\.port = '80800' \(from BOTGATE_PORT\): input should be less than or equal",
        2,
        env={"BOTGATE_PORT": "80800"},
    ),
    "unknown command": Mistake(["sevre"], r"No such command 'sevre'.*serve", 2),
    "unknown bot to chat with": Mistake(
        ["chat", "--bot", "helpdsk"],
        r"--bot 'helpdsk': no such bot \(bots: demo\)",
        2,
        config=BOT,
    ),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_mistake_is_one_line_with_what_to_do(tmp_path: Path, name: str) -> None:
    mistake = MISTAKES[name]
    assert_one_line(make(tmp_path, mistake), mistake)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_busy_port_says_how_to_pick_another(tmp_path: Path, busy_port: int) -> None:
    mistake = Mistake(
        ["serve", "--port", str(busy_port)],
        rf"port {busy_port} on 127\.0\.0\.1 is already in use \(another botgate role or "
        r"program\?\); choose another with `botgate serve --port N`, \[server\] port or "
        r"BOTGATE_PORT: on one host every role needs its own port",
        1,
        config=BOT,
    )
    assert_one_line(make(tmp_path, mistake), mistake)


def test_debug_shows_the_traceback_before_the_line(tmp_path: Path) -> None:
    args = ["--debug", "serve", "--port", "0"]
    env = {"BOTGATE_BUS_URL": "amqp://guest:guest@127.0.0.1:1/"}
    result = make(tmp_path, Mistake(args, "", 1, env=env))
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last)")
    assert result.stderr.splitlines()[-1].startswith("botgate: RabbitMQ at amqp://guest:***@")


def vhost_url(amqp_url: str, vhost: str) -> str:
    scheme_and_host = amqp_url.rsplit("/", 1)[0]
    return f"{scheme_and_host}/{vhost}"


@pytest.mark.rabbitmq
def test_a_missing_vhost_says_how_to_create_it(tmp_path: Path, amqp_url: str) -> None:
    mistake = Mistake(
        ["serve", "--port", "0"],
        r"RabbitMQ at amqp://\S+/botgate-missing refused virtual host 'botgate-missing' to "
        r"user '\w+': it does not exist or the user has no permission on it; create it "
        r"\(rabbitmqctl add_vhost botgate-missing;",
        1,
        config=BOT,
        env={"BOTGATE_BUS_URL": vhost_url(amqp_url, "botgate-missing")},
    )
    assert_one_line(make(tmp_path, mistake), mistake)


@pytest.mark.rabbitmq
def test_a_wrong_broker_password_is_named(tmp_path: Path, amqp_url: str) -> None:
    wrong = re.sub(r"://([^:@/]+)(:[^@/]*)?@", r"://\1:not-the-password@", amqp_url)
    mistake = Mistake(
        ["serve", "--port", "0"],
        r"RabbitMQ at amqp://\w+:\*\*\*@\S+ refused user '\w+': wrong user name or password; "
        r"check \[bus\] url \(BOTGATE_BUS_URL\)",
        1,
        config=BOT,
        env={"BOTGATE_BUS_URL": wrong},
        hidden="not-the-password",
    )
    assert_one_line(make(tmp_path, mistake), mistake)


@pytest.mark.postgres
def test_a_refused_database_login_is_named(tmp_path: Path, postgres_url: str) -> None:
    stranger = re.sub(r"://[^@/]+@", "://no_such_role_here:secret-pw@", postgres_url)
    mistake = Mistake(
        ["serve", "--port", "0"],
        r"database postgresql\+asyncpg://no_such_role_here:\*\*\*@\S+: the login was refused "
        r'\(.*"no_such_role_here".*\); check the user in \[database\] url',
        1,
        env={"BOTGATE_DATABASE_URL": stranger, "BOTGATE_SECRET_KEY": generate_key()},
        hidden="secret-pw",
    )
    assert_one_line(make(tmp_path, mistake), mistake)


@pytest.mark.postgres
def test_postgresql_urls_are_taken_with_a_note_and_status_creates_no_table(
    tmp_path: Path, postgres_url: str
) -> None:
    plain = postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    result = botgate("migrate", "status", cwd=tmp_path, env={"BOTGATE_DATABASE_URL": plain})
    assert result.returncode == 0, result.stderr
    [note] = result.stderr.splitlines()
    assert note.endswith(
        "database.url: postgresql:// is taken as postgresql+asyncpg:// (the driver botgate uses)"
    )
    assert "at base, head" in result.stdout
    check = botgate("check", cwd=tmp_path, env={"BOTGATE_DATABASE_URL": plain})
    assert check.returncode == 1
    assert "has pending migrations" in check.stdout
    assert list(tmp_path.iterdir()) == []
    assert asyncio.run(table_names(postgres_url)) == []


async def table_names(url: str) -> list[str]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: sqlalchemy.inspect(c).get_table_names())
    await engine.dispose()
    return tables
