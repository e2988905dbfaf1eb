"""docker-compose.yml, the Dockerfile and .dockerignore, checked without Docker: the compose
file is parsed and interpolated as `docker compose config` would, and what it names (files,
services, URLs, health checks, ports, profiles) is checked against this repository."""

from __future__ import annotations

import asyncio
import fnmatch
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from gateway import healthcheck
from gateway.config import ServerConfig, load_settings
from gateway.crypto import generate_key
from gateway.urls import check_bus_url, normalise_database_url
from tests.support.pipeline import make_settings, running

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
DEFAULT = {"postgres", "rabbitmq", "gateway", "core", "adapters"}
CLUSTER = {
    "rabbitmq-1",
    "rabbitmq-2",
    "rabbitmq-3",
    "cluster-lb",
    "cluster-gateway-1",
    "cluster-gateway-2",
    "cluster-core",
    "cluster-adapters",
}
BOTGATE = {name for name, service in SERVICES.items() if service.get("build") == "."}
SERVING = {name for name in BOTGATE if SERVICES[name]["command"][0] == "serve"}


def interpolate(value: Any, env: dict[str, str] | None = None) -> Any:
    """`${NAME}`, `${NAME:-default}` and `${NAME-default}` as compose expands them."""
    env = env or {}
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def expand(match: re.Match[str]) -> str:
        name, how, default = match[1], match[2], match[3] or ""
        assert how in {":-", "-"}, f"${{{name}{how}...}} fails on a machine without {name}"
        return env.get(name) or default if how == ":-" else env.get(name, default)

    return VARIABLE.sub(expand, value)


def profiles(name: str) -> list[str]:
    return list(SERVICES[name].get("profiles", []))


def env_of(name: str) -> dict[str, str]:
    return dict(interpolate(SERVICES[name].get("environment", {})))


def test_the_file_interpolates_on_a_machine_with_no_variables_set() -> None:
    # `${X:?message}` would stop every command, `docker compose run --rm keygen` included,
    # until X is set: botgate reports a missing key itself, in one line.
    interpolate(COMPOSE)
    assert "$" not in str(interpolate(COMPOSE)).replace("$$", "")


def test_services_and_profiles() -> None:
    assert {name for name in SERVICES if not profiles(name)} == DEFAULT
    assert {name for name in SERVICES if profiles(name) == ["tools"]} == {"keygen"}
    assert {name for name in SERVICES if profiles(name) == ["cluster"]} == CLUSTER


def test_every_service_has_an_image_and_botgate_is_built_from_this_repository() -> None:
    for name, service in SERVICES.items():
        assert service.get("image"), name
    assert {"gateway", "core", "adapters", "keygen"} <= BOTGATE
    assert all(SERVICES[name]["image"] == "botgate:latest" for name in BOTGATE)
    assert (ROOT / "Dockerfile").is_file()


def test_keygen_needs_nothing_to_run() -> None:
    keygen = SERVICES["keygen"]
    assert keygen["command"] == ["keygen"]
    assert "depends_on" not in keygen
    assert "environment" not in keygen


@pytest.mark.parametrize("name", sorted(DEFAULT | CLUSTER - {"cluster-lb"}))
def test_services_have_health_checks(name: str) -> None:
    test = SERVICES[name]["healthcheck"]["test"]
    if name == "postgres":
        assert "pg_isready" in test[-1]
    elif name.startswith("rabbitmq"):
        assert test[:2] == ["CMD", "rabbitmq-diagnostics"]
    else:
        assert test == ["CMD", "python", "-m", "gateway.healthcheck"]  # GET /readyz


async def test_the_health_check_asks_readyz_on_the_local_port(
    sqlite_url: str, memory_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(make_settings(sqlite_url, memory_url)) as runtime:
        monkeypatch.setenv("BOTGATE_PORT", str(runtime.http.port))
        assert await asyncio.to_thread(healthcheck.main) == 0
    assert await asyncio.to_thread(healthcheck.main) == 1  # nothing listens any more


@pytest.mark.parametrize("name", sorted(SERVING))
def test_botgate_services_reach_what_the_file_defines(name: str) -> None:
    env = env_of(name)
    database = normalise_database_url(env["BOTGATE_DATABASE_URL"])
    assert database.note is None  # written as botgate takes it
    assert urlsplit(database.url).hostname in SERVICES
    bus = check_bus_url(env["BOTGATE_BUS_URL"])
    assert urlsplit(bus).hostname in SERVICES
    assert SERVICES[name]["environment"]["BOTGATE_SECRET_KEY"] == "${BOTGATE_SECRET_KEY:-}"
    assert env["BOTGATE_HOST"] == "0.0.0.0"  # noqa: S104 - inside the container
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in interpolate(
        SERVICES[name]["volumes"])}  # fmt: skip
    assert (ROOT / mounted[env["BOTGATE_CONFIG"]]).is_file()
    depends = SERVICES[name]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", sorted(SERVING))
def test_a_stop_leaves_time_for_the_batch_in_hand(name: str) -> None:
    grace = ServerConfig().shutdown_grace.total_seconds()
    assert _seconds(SERVICES[name]["stop_grace_period"]) >= grace + 10


def test_the_default_config_loads_with_the_environment_compose_gives() -> None:
    env = {**env_of("gateway"), "BOTGATE_SECRET_KEY": generate_key()}
    settings = load_settings(ROOT / "botgate.toml", environ=env)
    assert settings.database.url.startswith("postgresql+asyncpg://botgate:")
    assert settings.bus.url == "amqp://botgate:botgate@rabbitmq:5672/botgate"


def test_the_cluster_config_loads_with_the_environment_compose_gives() -> None:
    env = {
        **env_of("cluster-core"),
        "BOTGATE_SECRET_KEY": generate_key(),
        "BOTGATE_DEMO_SECRET": "a-secret-of-length",
    }
    load_settings(ROOT / "deploy/cluster/botgate.toml", environ=env)


def test_published_ports_listen_on_loopback_unless_told_otherwise() -> None:
    published = {
        name: interpolate(service["ports"])
        for name, service in SERVICES.items()
        if service.get("ports")
    }
    assert {"gateway", "rabbitmq", "cluster-lb"} <= set(published)
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), (name, port)
    everywhere = {"BOTGATE_PUBLISH_ADDRESS": "0.0.0.0"}  # noqa: S104 - what a user may set
    assert interpolate(SERVICES["gateway"]["ports"], everywhere) == ["0.0.0.0:8080:8080"]


def test_volumes_are_declared_and_mounted_files_exist() -> None:
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for volume in interpolate(service.get("volumes", [])):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), (name, source)
            else:
                assert source in declared, (name, source)
    assert {"postgres-data", "rabbitmq-data"} <= declared


def test_the_cluster_has_three_rabbitmq_nodes_two_gateways_and_several_cores() -> None:
    nodes = [f"rabbitmq-{n}" for n in (1, 2, 3)]
    conf = (ROOT / "deploy/cluster/rabbitmq.conf").read_text()
    listed = re.findall(r"classic_config\.nodes\.\d+ = rabbit@(\S+)", conf)
    assert listed == nodes
    assert [SERVICES[node]["hostname"] for node in nodes] == nodes
    cookies = {env_of(node)["RABBITMQ_ERLANG_COOKIE"] for node in nodes}
    assert len(cookies) == 1
    haproxy = (ROOT / "deploy/cluster/haproxy.cfg").read_text()
    servers = re.findall(r"^\s*server \S+ (\S+):(\d+)", haproxy, re.MULTILINE)
    assert servers == [
        ("cluster-gateway-1", "8080"),
        ("cluster-gateway-2", "8080"),
        *[(node, "5672") for node in nodes],
    ]
    assert "option httpchk GET /readyz" in haproxy
    # N cores: they share the shard queues, each conversation on one core at a time
    assert SERVICES["cluster-core"]["deploy"]["replicas"] > 1
    assert SERVICES["cluster-gateway-2"]["command"] == ["serve", "--role", "gateway"]
    assert SERVICES["cluster-adapters"]["deploy"]["replicas"] >= 1
    for name in ("cluster-gateway-1", "cluster-gateway-2", "cluster-core", "cluster-adapters"):
        assert urlsplit(env_of(name)["BOTGATE_BUS_URL"]).hostname == "cluster-lb"


def test_the_image_runs_as_a_user_with_a_readiness_check() -> None:
    lines = _instructions(ROOT / "Dockerfile")
    users = [args for op, args in lines if op == "USER"]
    assert users
    assert users[-1] not in {"root", "0"}
    last_user = max(i for i, (op, _) in enumerate(lines) if op == "USER")
    assert all(op != "RUN" for op, _ in lines[last_user:])  # nothing runs as root after it
    assert any(op == "HEALTHCHECK" and "gateway.healthcheck" in args for op, args in lines)
    assert ("ENTRYPOINT", '["botgate"]') in lines


def test_the_build_context_has_what_the_image_copies_and_no_secrets() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for op, args in _instructions(ROOT / "Dockerfile"):
        if op == "COPY":
            *sources, _ = args.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    for secret in (".env", "botgate.key", "botgate.db", ".git", ".venv", "botgate.toml"):
        assert any(fnmatch.fnmatch(secret, pattern) for pattern in ignored), secret


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, duration
    return int(match[1]) * (60 if match[2] == "m" else 1)
