"""The system under test as a real process, on backends no other run has touched.

- `fresh_backends`: a new SQLite file or PostgreSQL database, and a new RabbitMQ vhost (made
  with `rabbitmqctl` when it is on this machine; otherwise the given vhost is used and the
  queues and exchanges of both pipelines are deleted before the run), all removed afterwards.
- `write_config`: the service's TOML: port 0, one generic bot whose callback is the receiver.
- `ServiceProcess`: runs `botgate serve` (or the raw pipeline) as a subprocess, learns its URL
  from the "serving on http://…" line on stderr, samples its peak RSS and CPU seconds while it
  runs, and stops it with SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from benchmarks.report import Usage, UsageSampler
from gateway.crypto import generate_key

SERVING = re.compile(r"serving on (http://\S+)")
BOT = "bench"
SECRET = "bench-secret-0123456789"  # noqa: S105 (signs bench traffic only)
# Settings a user's --config may tune; the rest (server, bus/database URLs, bots) is ours.
TUNABLE_SECTIONS = ("core", "database", "bus", "sessions")
OVERRIDE_VARIABLES = ("DATABASE_URL", "BUS_URL", "SECRET_KEY", "HOST", "PORT", "CONFIG")


@contextlib.asynccontextmanager
async def fresh_backends(database_url: str, bus_url: str) -> AsyncIterator[tuple[str, str]]:
    """(database URL, bus URL) private to one run; dropped when the block ends."""
    async with _fresh_database(database_url) as db, _fresh_bus(bus_url) as bus:
        yield db, bus


@contextlib.asynccontextmanager
async def _fresh_database(url: str) -> AsyncIterator[str]:
    if url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="botgate-bench-") as directory:
            yield f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        return
    import asyncpg  # type: ignore[import-untyped]

    admin_dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"botgate_bench_{uuid.uuid4().hex[:12]}"
    await _pg_admin(admin_dsn, f'CREATE DATABASE "{name}"')
    try:
        yield with_path(url, f"/{name}")
    finally:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await _pg_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _pg_admin(dsn: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def _fresh_bus(url: str) -> AsyncIterator[str]:
    if not url.startswith("amqp"):
        yield url
        return
    if shutil.which("rabbitmqctl") is None:
        await purge_amqp(url)
        yield url
        return
    vhost = f"botgate-bench-{uuid.uuid4().hex[:12]}"
    user = urlsplit(url).username or "guest"
    await asyncio.to_thread(rabbitmqctl, "add_vhost", vhost)
    try:
        await asyncio.to_thread(rabbitmqctl, "set_permissions", "-p", vhost, user, *[".*"] * 3)
        yield with_path(url, "/" + quote(vhost, safe=""))
    finally:
        await asyncio.to_thread(rabbitmqctl, "delete_vhost", vhost)


def rabbitmqctl(*args: str) -> None:
    executable = shutil.which("rabbitmqctl")
    assert executable is not None
    subprocess.run([executable, "-q", *args], check=True, capture_output=True, timeout=60)  # noqa: S603


async def purge_amqp(url: str) -> None:
    """Without rabbitmqctl: delete what earlier runs of either pipeline left in the vhost."""
    import aio_pika

    from benchmarks.raw import RAW_QUEUES

    shards = [f"botgate.core.{index}" for index in range(1024)]  # as many as bus.shards takes
    queues = ("botgate.core", *shards, f"botgate.actions.generic.{BOT}", *RAW_QUEUES)
    connection = await aio_pika.connect(url)
    try:
        for queue in queues:
            channel = await connection.channel()
            with contextlib.suppress(aio_pika.exceptions.ChannelClosed):
                await channel.queue_delete(queue)
    finally:
        await connection.close()


def with_path(url: str, path: str) -> str:
    """`url` with its path replaced (a database name, an AMQP vhost)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def write_config(
    path: Path,
    database_url: str,
    bus_url: str,
    callback_url: str,
    tuning: Mapping[str, Mapping[str, Any]] | None = None,
    tool_url: str | None = None,
) -> Path:
    """The service's config: ours, plus the tunable sections of the user's --config; with
    `tool_url`, the bot's `slow` tool is an http tool there."""
    sections: dict[str, dict[str, Any]] = {
        "server": {"host": "127.0.0.1", "port": 0},
        "security": {"secret_key": generate_key()},
    }
    for name in TUNABLE_SECTIONS:
        sections[name] = dict((tuning or {}).get(name, {}))
    sections["database"]["url"] = database_url
    sections["bus"]["url"] = bus_url
    lines = [line for name, values in sections.items() for line in _table(name, values)]
    if tool_url:
        lines += _table(f"tools.{SLOW_TOOL}", {"kind": "http", "url": tool_url, "secret": SECRET})
    tools = ["help", SLOW_TOOL] if tool_url else ["help"]
    lines += ["[[bots]]", f'name = "{BOT}"', f"tools = {json.dumps(tools)}"]
    lines += [f"kb = {json.dumps([KB_COLLECTION])}"]  # KB-enabled, as users run it
    lines += _table("bots.generic", {"secret": SECRET, "callback_url": callback_url})
    path.write_text("\n".join(lines) + "\n")
    return path


SLOW_TOOL = "slow"
KB_COLLECTION = "bench-docs"  # the bench bot's knowledge base (benchmarks/preload.py fills it)


def service_tables(database_url: str, bus_url: str) -> str:
    """What every benchmark's service is given: a loopback port of its own, a fresh secret
    key and the backends; the benchmark adds its bots."""
    sections: dict[str, dict[str, Any]] = {
        "server": {"host": "127.0.0.1", "port": 0},
        "security": {"secret_key": generate_key()},
        "database": {"url": database_url},
        "bus": {"url": bus_url},
    }
    return "\n".join(line for name, values in sections.items() for line in _table(name, values))


def _table(name: str, values: Mapping[str, Any]) -> list[str]:
    return [f"[{name}]"] + [f"{key} = {_toml_value(value)}" for key, value in values.items()]


def _toml_value(value: Any) -> str:
    """Scalars and lists of scalars: their JSON spelling is valid TOML."""
    if isinstance(value, str | int | float | bool) or (
        isinstance(value, list) and all(isinstance(v, str | int | float) for v in value)
    ):
        return json.dumps(value)
    raise ValueError(f"bench --config: cannot pass on {value!r}; use strings and numbers")


def child_environment() -> dict[str, str]:
    """Our environment without BOTGATE_* overrides, which would beat the generated config."""
    blocked = {f"BOTGATE_{name}" for name in OVERRIDE_VARIABLES}
    env = {k: v for k, v in os.environ.items() if k not in blocked}
    return {**env, "BOTGATE_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}


class ServiceProcess:
    """One pipeline process, started and stopped by us, watched with psutil."""

    def __init__(self, label: str, argv: list[str]) -> None:
        self.label, self.argv = label, argv
        self.url = ""
        self._process: asyncio.subprocess.Process | None = None
        self._sampler: UsageSampler | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.log_tail: deque[str] = deque(maxlen=40)
        self.on_line: Callable[[str], None] | None = None  # every line the service logs

    @property
    def pid(self) -> int:
        assert self._process is not None, "the service is not started"
        return self._process.pid

    def kill(self) -> None:
        """SIGKILL now, unless it has exited already: then its pid may be another process's
        (pids wrap quickly on a busy machine), which a bare `os.kill` would hit."""
        assert self._process is not None, "the service is not started"
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()  # asyncio and Popen check that it is still our child

    @classmethod
    def botgate(cls, config: Path) -> ServiceProcess:
        return cls("botgate", [sys.executable, "-m", "gateway", "serve", "--config", str(config)])

    async def start(self, timeout: float = 60) -> str:
        self._process = await asyncio.create_subprocess_exec(
            *self.argv, stderr=asyncio.subprocess.PIPE, env=child_environment()
        )
        self._sampler = UsageSampler(self._process.pid)
        self._tasks.append(asyncio.create_task(self._sample_forever()))
        try:
            self.url = await asyncio.wait_for(self._serving_url(), timeout)
        except TimeoutError:
            await self.stop()
            raise RuntimeError(f"{self.label} did not start within {timeout}s") from None
        self._tasks.append(asyncio.create_task(self._drain()))
        return self.url

    async def _serving_url(self) -> str:
        assert self._process is not None
        assert self._process.stderr is not None
        while line := (await self._process.stderr.readline()).decode(errors="replace"):
            self.log_tail.append(line.rstrip())
            if self.on_line is not None:  # the start-up lines too
                self.on_line(line.rstrip())
            if match := SERVING.search(line):
                return match[1]
        code = await self._process.wait()
        tail = "\n".join(self.log_tail)
        raise RuntimeError(f"{self.label} exited with {code} before serving:\n{tail}")

    async def _drain(self) -> None:
        assert self._process is not None
        assert self._process.stderr is not None
        while line := await self._process.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self.log_tail.append(text)
            if self.on_line is not None:
                self.on_line(text)

    async def _sample_forever(self) -> None:
        assert self._sampler is not None
        while True:
            self._sampler.sample()
            await asyncio.sleep(0.2)

    def usage(self) -> Usage:
        assert self._sampler is not None
        self._sampler.sample()
        return self._sampler.usage()

    async def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; the exit code."""
        if self._process is None:
            return None
        if self._sampler is not None:
            self._sampler.sample()  # the CPU seconds up to the stop
        if self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self._process.wait(), timeout)
        except TimeoutError:
            code = await self._kill_hung(timeout)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return code

    async def _kill_hung(self, timeout: float) -> int:
        """SIGKILL a process that ignored SIGTERM for `timeout`, its stacks first on its stderr
        (both pipelines dump them on SIGUSR2), so its log tail says why it hung."""
        assert self._process is not None
        self.log_tail.append(f"[{self.label} still running {timeout:g}s after SIGTERM: killed]")
        with contextlib.suppress(ProcessLookupError):
            self._process.send_signal(STACKS_SIGNAL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._process.wait(), 2)
        self.kill()
        return await self._process.wait()


STACKS_SIGNAL = signal.SIGUSR2  # both pipelines' faulthandler dumps their threads' stacks


ROLES = ("gateway", "core", "adapters")


def parse_processes(spec: str) -> dict[str, int]:
    """`gateway=1,core=3,adapters=2` -> {"gateway": 1, "core": 3, "adapters": 2}."""
    counts: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        role, _, count = part.partition("=")
        if role not in ROLES or not count.isdigit() or int(count) < 1:
            raise ValueError(
                f"--processes: {part!r} is not ROLE=N with ROLE one of {', '.join(ROLES)}"
            )
        counts[role] = int(count)
    missing = [role for role in ROLES if role not in counts]
    if missing:
        raise ValueError(f"--processes: no count for {', '.join(missing)} (e.g. gateway=1,...)")
    return counts


class ProcessGroup:
    """The roles as separate processes (`botgate serve --role ...`), started and stopped as
    one: what `ServiceProcess` offers, with the webhooks on the first gateway (several
    gateways share the load round robin only behind a balancer, which the bench has not)."""

    def __init__(self, config: Path, counts: Mapping[str, int]) -> None:
        self.label = "botgate " + ",".join(f"{role}={n}" for role, n in counts.items())
        serve = [sys.executable, "-m", "gateway", "serve", "--config", str(config)]
        self.processes = [
            ServiceProcess(f"{role}-{n}", [*serve, "--role", role, "--no-migrate"])
            for role in ROLES
            for n in range(counts[role])
        ]
        self.url = ""

    @property
    def log_tail(self) -> deque[str]:
        lines: deque[str] = deque(maxlen=40)
        for process in self.processes:
            lines.extend(f"{process.label}: {line}" for line in process.log_tail)
        return lines

    async def start(self, timeout: float = 90) -> str:
        urls = await asyncio.gather(*(p.start(timeout) for p in self.processes))
        self.url = urls[0]  # the first is a gateway
        return self.url

    def usage(self) -> Usage:
        usages = [process.usage() for process in self.processes]
        return Usage(sum(u.peak_rss_mb for u in usages), sum(u.cpu_seconds for u in usages))

    async def stop(self, timeout: float = 30) -> int | None:
        codes = await asyncio.gather(*(p.stop(timeout) for p in self.processes))
        return next((code for code in codes if code not in (0, None)), 0)
