"""Configuration: one TOML file, `${NAME}` expansion, environment overrides, validated on load.

Resolution order of the file: `--config`, else `$BOTGATE_CONFIG`, else `./botgate.toml`,
else built-in defaults (SQLite + in-process bus).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from gateway.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_NAMED_ERROR = re.compile(r"^Value error, (?P<key>[\w.]+): (?P<rest>.*)$", re.DOTALL)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ENV_OVERRIDES = {
    "BOTGATE_DATABASE_URL": ("database", "url"),
    "BOTGATE_BUS_URL": ("bus", "url"),
    "BOTGATE_SECRET_KEY": ("security", "secret_key"),
    "BOTGATE_ADMIN_TOKEN": ("security", "admin_token"),
    "BOTGATE_HOST": ("server", "host"),
    "BOTGATE_PORT": ("server", "port"),
}


def parse_duration(value: object) -> timedelta:
    """'30m', '90d', '500ms', or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration; write it like '30s', '30m', '12h' or '90d'")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = None
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    reply_wait: Duration = timedelta(seconds=10)
    shutdown_grace: Duration = timedelta(seconds=10)


class DatabaseConfig(_Section):
    url: str = "sqlite+aiosqlite:///botgate.db"
    pool_size: int = Field(10, ge=1)
    echo: bool = False


class BusConfig(_Section):
    url: str = "memory://"
    prefetch: int = Field(200, ge=1)
    max_attempts: int = Field(5, ge=1)
    reconnect_interval: Duration = timedelta(seconds=2)
    publish_timeout: Duration = timedelta(seconds=5)


class SecurityConfig(_Section):
    secret_key: str | None = None
    admin_token: str | None = None
    signature_window: Duration = timedelta(minutes=5)


class SessionsConfig(_Section):
    idle_timeout: Duration = timedelta(minutes=30)
    message_retention: Duration = timedelta(days=90)


class CoreConfig(_Section):
    batch_size: int = Field(100, ge=1)
    batch_wait: Duration = timedelta(milliseconds=5)
    fallback_reply: str = "Sorry, I don't know that yet. Type /help to see what I can do."
    max_in_flight: int = Field(100, ge=1)  # answers (tool calls) running at once
    max_pending: int = Field(2000, ge=1)  # answers owed in memory before intake pauses
    answer_lease: Duration = timedelta(seconds=10)  # an owed answer's claim; a crash frees it


TOOL_NAME = r"^[a-z][a-z0-9_]{0,31}$"  # what Telegram, Slack and Discord all take as a command


class ToolConfig(_Section):
    """`[tools.NAME]`: a tool answered by another service (http, bus) or by Python code."""

    kind: Literal["http", "bus", "python"]
    description: str = ""
    url: str | None = None  # http: where the call is POSTed
    secret: str | None = Field(None, min_length=8)  # http: signs the call like a callback
    entry: str | None = Field(None, pattern=r"^[\w.]+:[\w.]+$")  # python: "module:attribute"
    timeout: Duration = timedelta(seconds=10)
    parameters: dict[str, Any] | None = None  # JSON Schema of its arguments (the assistant)

    @model_validator(mode="after")
    def _needs_its_target(self) -> ToolConfig:
        if self.kind == "http" and not (self.url and self.secret):
            raise ValueError("an http tool needs `url` and `secret`")
        if self.kind == "python" and not self.entry:
            raise ValueError('a python tool needs `entry = "module:attribute"`')
        return self


class TelegramConfig(_Section):
    token: str
    webhook_secret: str | None = None
    mode: Literal["webhook", "polling"] = "webhook"
    api_base_url: str = "https://api.telegram.org/bot"
    api_file_url: str | None = None
    username: str | None = None  # the bot's @username; else read with getMe on start
    allowed_updates: list[str] | None = None  # None: every update type the adapter handles
    poll_timeout: Duration = timedelta(seconds=25)
    request_timeout: Duration = timedelta(seconds=10)
    rate_per_chat: float = Field(1.0, gt=0)  # messages a second in one chat
    rate_per_group: float = Field(20.0, gt=0)  # messages a minute in one group
    rate_per_bot: float = Field(30.0, gt=0)  # messages a second over all chats
    max_retry_wait: Duration = timedelta(seconds=30)  # longer 429 waits go back to the runner
    stream_drafts: bool = True  # answers being written shown as drafts in private chats


class SlackConfig(_Section):
    bot_token: str
    signing_secret: str
    app_token: str | None = None  # xapp-... enables Socket Mode
    api_base_url: str = "https://slack.com/api/"
    send_interval: Duration = timedelta(seconds=1)  # Slack allows about 1 message/s per channel
    names_ttl: Duration = timedelta(hours=1)  # users.info / conversations.info cache lifetime
    socket_ping_interval: Duration = timedelta(seconds=10)


class DiscordConfig(_Section):
    token: str
    public_key: str | None = None
    application_id: str | None = None
    gateway: bool = True
    api_base_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"  # this default: use what `GET /gateway/bot` says
    guild_id: str | None = None  # register application commands in this guild only (instant)
    register_commands: bool = True  # bulk-overwrite the bot's tools as commands when they change
    lock_retry_interval: Duration = timedelta(seconds=5)  # a standby process tries to take over
    lock_check_interval: Duration = timedelta(seconds=10)  # the holder checks it still holds it
    max_retry_wait: Duration = timedelta(seconds=30)  # longer 429 waits go back to the runner


class GenericConfig(_Section):
    secret: str = Field(min_length=8)
    callback_url: str | None = None
    callback_timeout: Duration = timedelta(seconds=10)
    callback_attempts: int = Field(8, ge=1)


class AssistantConfig(_Section):
    """`[bots.assistant]`: a model behind any OpenAI-compatible chat-completions API answers
    plain messages (docs/assistant.md)."""

    base_url: str = Field(pattern=r"^https?://")  # e.g. http://127.0.0.1:11434/v1
    model: str = Field(min_length=1)
    api_key: str | None = None  # sent as `Authorization: Bearer`; stored encrypted
    timeout: Duration = timedelta(seconds=30)  # for the first chunk, and between chunks
    system_prompt: str = (
        "You are a helpful assistant in a chat. Answer briefly and plainly, in the language "
        "the person writes in."
    )
    max_history: int = Field(20, ge=0, le=500)  # earlier messages of the session sent along
    max_tokens: int = Field(1024, ge=1)  # of one answer
    temperature: float | None = Field(None, ge=0, le=2)
    context_tokens: int = Field(8192, ge=512)  # the model's context: history is trimmed to fit
    tokens_per_day: int | None = Field(None, ge=1)  # this bot's budget (in + out), UTC days
    requests_per_minute: int | None = Field(10, ge=1)  # per person
    max_tool_rounds: int = Field(5, ge=0, le=5)  # tool-call rounds before the model must answer
    stream: bool = True  # show the answer while it is written, where the platform can


class BotConfig(_Section):
    name: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    organization: str = "default"
    description: str = ""
    kb: list[str] = []
    tools: list[str] = ["help"]
    fallback_reply: str | None = None
    telegram: TelegramConfig | None = None
    slack: SlackConfig | None = None
    discord: DiscordConfig | None = None
    generic: GenericConfig | None = None
    assistant: AssistantConfig | None = None

    def platforms(self) -> dict[str, _Section]:
        """The platform tables this bot has, by platform name."""
        tables = {
            "telegram": self.telegram,
            "slack": self.slack,
            "discord": self.discord,
            "generic": self.generic,
        }
        return {name: table for name, table in tables.items() if table is not None}


class Settings(_Section):
    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    bus: BusConfig = BusConfig()
    security: SecurityConfig = SecurityConfig()
    sessions: SessionsConfig = SessionsConfig()
    core: CoreConfig = CoreConfig()
    tools: dict[str, ToolConfig] = {}
    bots: list[BotConfig] = []
    source: str = Field("built-in defaults", exclude=True)

    @model_validator(mode="after")
    def _unique_bot_names(self) -> Settings:
        names = [bot.name for bot in self.bots]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"bot names must be unique; repeated: {', '.join(duplicates)}")
        return self

    @model_validator(mode="after")
    def _known_tools(self) -> Settings:
        from gateway.tools.names import known_tool_names  # the tools package reads config

        for name in self.tools:
            if not re.match(TOOL_NAME, name):
                raise ValueError(f"tool name {name!r} must match {TOOL_NAME}")
        known = known_tool_names(self.tools)
        for index, bot in enumerate(self.bots):
            for position, tool in enumerate(bot.tools):
                if tool not in known:
                    raise ValueError(
                        f"bots.{index}.tools.{position}: unknown tool {tool!r}; a built-in "
                        f"({', '.join(sorted(known - set(self.tools)))}) or a [tools.{tool}] table"
                    )
        return self

    def bot(self, name: str) -> BotConfig | None:
        return next((bot for bot in self.bots if bot.name == name), None)


def resolve_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    """The config file to read, or None for built-in defaults."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    from_env = os.environ.get("BOTGATE_CONFIG")
    if from_env:
        return resolve_path(from_env)
    local = Path("botgate.toml")
    return local if local.is_file() else None


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read, expand, override and validate; raise ConfigError naming the key at fault."""
    env = os.environ if environ is None else environ
    resolved = resolve_path(path)
    raw: dict[str, Any] = {}
    if resolved is not None:
        try:
            raw = tomllib.loads(resolved.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{resolved}: not valid TOML: {exc}") from exc
    raw = _expand(raw, env, "")
    _apply_overrides(raw, env)
    raw["source"] = str(resolved) if resolved else "built-in defaults"
    return settings_from_dict(raw)


def settings_from_dict(raw: Mapping[str, Any]) -> Settings:
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = error["msg"]
        named = _NAMED_ERROR.match(message) if not key else None
        if named:  # a check across sections names its key itself
            key, message = named["key"], named["rest"]
        lines.append(f"config key {key or '(top level)'}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _expand(value: Any, env: Mapping[str, str], key: str) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, env, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, f"{key}.{i}") for i, v in enumerate(value)]
    if isinstance(value, str):
        return _ENV_REF.sub(lambda match: _lookup(match[1], env, key), value)
    return value


def _lookup(name: str, env: Mapping[str, str], key: str) -> str:
    if name not in env:
        raise ConfigError(f"config key {key}: environment variable {name} is not set")
    return env[name]


def _apply_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for variable, (section, key) in ENV_OVERRIDES.items():
        if env.get(variable):
            raw.setdefault(section, {})[key] = env[variable]
