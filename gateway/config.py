"""Configuration: one TOML file, `${NAME}` expansion, environment overrides, validated on load.

Resolution order of the file: `--config`, else `$BOTGATE_CONFIG`, else `./botgate.toml`,
else built-in defaults (SQLite + in-process bus).
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.bus.topology import DEFAULT_SHARDS
from gateway.config_errors import Origin, describe
from gateway.errors import ConfigError
from gateway.kb.languages import check_language
from gateway.urls import check_bus_url, normalise_database_url

log = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# The demo bot's secret, published in ./botgate.toml and the README: a warning off loopback.
DEMO_SECRET = "demo-secret-change-me"  # noqa: S105
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


def parse_keep(value: object) -> timedelta | None:
    """A retention: a duration, or "never" (None) to keep rows for good."""
    if isinstance(value, str) and value.strip().lower() == "never":
        return None
    return parse_duration(value)


KeepFor = Annotated[timedelta | None, BeforeValidator(parse_keep)]
NAME_PATTERN = r"^[a-z0-9_-]{1,64}$"
_PATTERN_WORD = re.compile(r"^(\*|#|[A-Za-z0-9_-]+)$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = None
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    reply_wait: Duration = timedelta(seconds=10)  # ?wait=1 (or true): wait this long
    reply_wait_max: Duration = timedelta(seconds=30)  # ?wait=N: N seconds, at most this
    shutdown_grace: Duration = timedelta(seconds=10)
    log_format: Literal["text", "json"] = "text"
    # Reverse proxies whose X-Forwarded-For names the client (gateway/http/clients.py).
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)

    @model_validator(mode="after")
    def _wait_within_max(self) -> ServerConfig:
        if self.reply_wait > self.reply_wait_max:
            raise ValueError(
                f"reply_wait ({self.reply_wait.total_seconds():g}s) is longer than "
                f"reply_wait_max ({self.reply_wait_max.total_seconds():g}s); raise reply_wait_max"
            )
        return self


class DatabaseConfig(_Section):
    url: str = "sqlite+aiosqlite:///botgate.db"
    pool_size: int = Field(10, ge=1)
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _supported_url(cls, url: str) -> str:
        normalised = normalise_database_url(url)
        if normalised.note:
            log.info("database.url: %s", normalised.note)
        return normalised.url


class BusConfig(_Section):
    url: str = "memory://"
    prefetch: int = Field(200, ge=1)
    max_attempts: int = Field(5, ge=1)
    reconnect_interval: Duration = timedelta(seconds=2)
    publish_timeout: Duration = timedelta(seconds=5)
    # Events are spread over this many ordered queues by conversation; the cores share them.
    # Every process must have the same number; change it only with the pipeline drained.
    shards: int = Field(DEFAULT_SHARDS, ge=1, le=1024)
    # "quorum" queues are replicated over a RabbitMQ cluster; "classic" ones live on one node.
    queue_type: Literal["quorum", "classic"] = "quorum"

    @field_validator("url")
    @classmethod
    def _supported_url(cls, url: str) -> str:
        return check_bus_url(url)


class AdaptersConfig(_Section):
    """How adapter processes share a bot's poller (Telegram polling, the Discord gateway)."""

    lease_ttl: Duration = timedelta(seconds=20)  # a dead holder's poller moves after this
    lease_retry_interval: Duration = timedelta(seconds=5)  # how often a standby tries to take it

    @model_validator(mode="after")
    def _renewal_fits(self) -> AdaptersConfig:
        if self.lease_ttl < timedelta(seconds=1):
            raise ValueError("lease_ttl must be at least 1s; 20s is a good value")
        if self.lease_retry_interval <= timedelta(0):
            raise ValueError("lease_retry_interval must be more than 0s; 5s is a good value")
        return self


def _retry_delays(value: object) -> tuple[timedelta, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError('write the delays as a list, like ["1s", "10s", "1m", "10m", "1h"]')
    delays = tuple(parse_duration(item) for item in value)
    if any(delay < timedelta(milliseconds=10) for delay in delays):
        raise ValueError("each delay must be at least 10ms")
    if list(delays) != sorted(delays):
        raise ValueError("delays must not shrink: list them from shortest to longest")
    if len(set(delays)) > 20:
        raise ValueError("at most 20 different delays (each is a queue on the broker)")
    return delays


class SendsConfig(_Section):
    """Retries of sends that failed for a transient reason (429, 5xx, network): held in the
    broker, each wait the next of `retry_delays` (the last one repeats), for `retry_for` in
    all, then dead-lettered with the reason."""

    retry_delays: Annotated[tuple[timedelta, ...], BeforeValidator(_retry_delays)] = tuple(
        timedelta(seconds=s) for s in (1, 5, 30, 120, 600, 3600)
    )
    retry_for: Duration = timedelta(hours=24)

    @model_validator(mode="after")
    def _long_enough(self) -> SendsConfig:
        if self.retry_for < self.retry_delays[0]:
            raise ValueError("retry_for is shorter than the first of retry_delays; raise it")
        return self


class SecurityConfig(_Section):
    secret_key: str | None = None
    admin_token: str | None = None
    signature_window: Duration = timedelta(minutes=5)


class SessionsConfig(_Section):
    idle_timeout: Duration = timedelta(minutes=30)
    message_retention: Duration = timedelta(days=90)  # messages, clicks, the de-duplication ledger
    session_retention: Duration | None = None  # sessions idle this long go; unset: as messages

    @property
    def sessions_kept(self) -> timedelta:
        return self.session_retention or self.message_retention


class RetentionConfig(_Section):
    """How long operational rows are kept ("never" keeps them); pruned every `interval`."""

    audit_log: KeepFor = timedelta(days=365)
    dead_letters: KeepFor = timedelta(days=30)
    automation_runs: KeepFor = timedelta(days=90)
    interval: Duration = timedelta(hours=1)


class OperationsConfig(_Section):
    redrive_interval: Duration = timedelta(seconds=2)  # how often the core looks for re-drives
    redrive_limit: int = Field(1000, ge=1, le=100_000)  # most letters one re-drive takes


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


class KbConfig(_Section):
    """[kb]: the knowledge base. Without `embeddings_url` the built-in static model (shipped
    with the `wordllama` package, no network) embeds passages and questions."""

    embeddings_url: str | None = None  # an OpenAI-compatible API: POST {url}/embeddings
    embeddings_model: str | None = None  # the model name sent to it (required with the URL)
    embeddings_api_key: str | None = None  # sent as a bearer token
    embeddings_timeout: Duration = timedelta(seconds=30)
    embeddings_batch: int = Field(64, ge=1, le=2048)  # texts per request
    language: Annotated[str, AfterValidator(check_language)] = "english"  # of new collections
    min_score: float = Field(0.4, ge=0, le=1)  # cosine below which an answer finds nothing
    passage_chars: int = Field(1000, ge=200, le=20000)  # upper bound of a passage's text
    max_file_bytes: int = Field(50 * 1024 * 1024, gt=0)
    max_query_chars: int = Field(1000, ge=10)

    @model_validator(mode="after")
    def _model_with_url(self) -> KbConfig:
        if self.embeddings_url and not self.embeddings_model:
            raise ValueError("embeddings_url needs embeddings_model: the model name to ask for")
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
    # No longer used (the gateway is held under the [adapters] lease); old files still load.
    lock_retry_interval: Duration = timedelta(seconds=5)
    lock_check_interval: Duration = timedelta(seconds=10)
    max_retry_wait: Duration = timedelta(seconds=30)  # longer 429 waits go back to the runner


class GenericConfig(_Section):
    secret: str = Field(min_length=8)
    callback_url: str | None = None
    callback_timeout: Duration = timedelta(seconds=10)
    callback_attempts: int = Field(8, ge=1)


_ORIGIN = re.compile(
    r"(?i)^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?$"
)


def check_origin(value: str) -> str:
    """An origin as browsers send it: scheme://host[:port], no path, no trailing slash."""
    if not _ORIGIN.match(value):
        raise ValueError(
            f"{value!r} is not an origin; write scheme://host[:port] with no path or trailing "
            "slash, e.g. 'https://www.example.com'"
        )
    return value.lower()


WebOrigin = Annotated[str, AfterValidator(check_origin)]


class WebchatConfig(_Section):
    """`[bots.webchat]`: the bot's web chat at /chat/{bot} and its widget (docs/web-chat.md)."""

    allowed_origins: list[WebOrigin] = []  # pages that may embed the widget (besides ours)
    title: str = Field("", max_length=120)  # the chat's heading; default: the bot's name
    visitor_ttl: Duration = timedelta(days=30)  # a visitor's token; a reload resumes within it
    max_message_chars: int = Field(4000, ge=1, le=65536)
    visitor_per_minute: int = Field(20, ge=1)  # messages (and clicks) one visitor may send
    ip_per_minute: int = Field(120, ge=1)  # messages from one IP address, over its visitors
    history: int = Field(50, ge=0, le=1000)  # messages shown on (re)connect


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
    name: str = Field(pattern=NAME_PATTERN)
    organization: str = "default"
    description: str = ""
    kb: list[str] = []
    tools: list[str] = ["help"]
    fallback_reply: str | None = None
    telegram: TelegramConfig | None = None
    slack: SlackConfig | None = None
    discord: DiscordConfig | None = None
    generic: GenericConfig | None = None
    webchat: WebchatConfig | None = None
    assistant: AssistantConfig | None = None

    def platforms(self) -> dict[str, _Section]:
        """The platform tables this bot has, by platform name."""
        tables = {
            "telegram": self.telegram,
            "slack": self.slack,
            "discord": self.discord,
            "generic": self.generic,
            "webchat": self.webchat,
        }
        return {name: table for name, table in tables.items() if table is not None}


class Destination(_Section):
    """Where an automation's message goes. On an event automation, what is left out is taken
    from the event (its platform, channel and thread)."""

    platform: str | None = None
    channel_id: str | None = Field(None, min_length=1)
    thread_id: str | None = None
    channel_type: Literal["direct", "group", "channel", "thread"] = "channel"


class SendConfig(Destination):
    text: str = Field(min_length=1)
    format: Literal["plain", "markdown"] = "markdown"


class AutomationConfig(_Section):
    """A cron schedule (in `timezone`) or an event pattern that makes `bot` send a message
    or run a tool."""

    name: str = Field(pattern=NAME_PATTERN)
    bot: str
    cron: str | None = None
    timezone: str = "UTC"
    event: str | None = None  # a routing-key pattern on botgate.events
    send: SendConfig | None = None
    tool: str | None = Field(None, pattern=NAME_PATTERN)
    args: str = ""
    to: Destination | None = None  # where the tool's replies go
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                CronSim(value, datetime(2000, 1, 1))
            except CronSimError as exc:
                raise ValueError(f"{value!r} is not a cron expression ({exc})") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone, e.g. 'Europe/Berlin'") from None
        return value

    @field_validator("event")
    @classmethod
    def _valid_pattern(cls, value: str | None) -> str | None:
        if value is not None and not all(_PATTERN_WORD.match(w) for w in value.split(".")):
            raise ValueError(
                f"{value!r} is not a routing-key pattern: words of letters, digits, - and _, "
                "or * (one word) or # (any words), joined by dots, e.g. '*.helpdesk.member.joined'"
            )
        return value

    @model_validator(mode="after")
    def _one_trigger_one_deed(self) -> AutomationConfig:
        if (self.cron is None) == (self.event is None):
            raise ValueError("set either `cron` (a schedule) or `event` (a routing-key pattern)")
        if (self.send is None) == (self.tool is None):
            raise ValueError("set either `send` (a message) or `tool` (a tool to run)")
        if self.send is not None and self.to is not None:
            raise ValueError("`to` is where a tool's replies go; a `send` names its own channel")
        target = self.destination
        if target.platform is not None and target.channel_id is None:
            what = "send" if self.send is not None else "to"
            raise ValueError(f"`{what}.platform` needs `{what}.channel_id` beside it")
        if self.cron is not None and (target.platform is None or target.channel_id is None):
            what = "send" if self.send is not None else "to"
            raise ValueError(
                f"a scheduled automation needs `{what}.platform` and `{what}.channel_id`"
            )
        return self

    @property
    def destination(self) -> Destination:
        return self.send or self.to or Destination()


class Settings(_Section):
    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    bus: BusConfig = BusConfig()
    adapters: AdaptersConfig = AdaptersConfig()
    sends: SendsConfig = SendsConfig()
    security: SecurityConfig = SecurityConfig()
    sessions: SessionsConfig = SessionsConfig()
    retention: RetentionConfig = RetentionConfig()
    core: CoreConfig = CoreConfig()
    tools: dict[str, ToolConfig] = {}
    operations: OperationsConfig = OperationsConfig()
    kb: KbConfig = KbConfig()
    bots: list[BotConfig] = []
    automations: list[AutomationConfig] = []
    source: str = Field("built-in defaults", exclude=True)

    @model_validator(mode="after")
    def _unique_bot_names(self) -> Settings:
        _unique("bot", [bot.name for bot in self.bots])
        return self

    @model_validator(mode="after")
    def _automations_fit_their_bots(self) -> Settings:
        _unique("automation", [automation.name for automation in self.automations])
        for index, automation in enumerate(self.automations):
            _check_automation(f"automations.{index}", automation, self.bot(automation.bot))
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
                        f"bots[{index}].tools[{position}] = {tool!r}: unknown tool; a built-in "
                        f"({', '.join(sorted(known - set(self.tools)))}) or a [tools.{tool}] table"
                    )
        return self

    def bot(self, name: str) -> BotConfig | None:
        return next((bot for bot in self.bots if bot.name == name), None)


def _unique(what: str, names: list[str]) -> None:
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{what} names must be unique; repeated: {', '.join(duplicates)}")


def _check_automation(key: str, automation: AutomationConfig, bot: BotConfig | None) -> None:
    if bot is None:
        raise ValueError(f"{key}.bot: no bot named {automation.bot!r} is configured")
    platform = automation.destination.platform
    if platform is not None and platform not in bot.platforms():
        where = "send" if automation.send is not None else "to"
        raise ValueError(
            f"{key}.{where}.platform: bot {bot.name!r} is not on {platform!r} "
            f"(it is on: {', '.join(bot.platforms()) or 'no platform'})"
        )
    if automation.tool is not None and automation.tool not in bot.tools:
        raise ValueError(
            f"{key}.tool: bot {bot.name!r} has no tool {automation.tool!r}; "
            f"add it to the bot's `tools` (it has: {', '.join(bot.tools)})"
        )


def resolve_path(explicit: str | os.PathLike[str] | None, via: str = "--config") -> Path | None:
    """The config file to read, or None for built-in defaults."""
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise ConfigError(
                f"{via} {path}: no such file; give an existing TOML file, or none to use "
                "./botgate.toml or the built-in defaults"
            )
        if not path.is_file():
            raise ConfigError(f"{via} {path}: not a file; give the path of a TOML file")
        return path
    from_env = os.environ.get("BOTGATE_CONFIG")
    if from_env:
        return resolve_path(from_env, "BOTGATE_CONFIG")
    local = Path("botgate.toml")
    return local if local.is_file() else None


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read, expand, override and validate; raise ConfigError naming the key at fault."""
    env = os.environ if environ is None else environ
    resolved = resolve_path(path)
    origin = Origin(str(resolved) if resolved else None)
    raw = _expand(_read(resolved), env, "", origin)
    origin.overrides.update(_apply_overrides(raw, env))
    raw["source"] = str(resolved) if resolved else "built-in defaults"
    return settings_from_dict(raw, origin)


def settings_from_dict(raw: Mapping[str, Any], origin: Origin | None = None) -> Settings:
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe(exc, Settings, origin or Origin(None))) from None


def _read(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"config file {path} cannot be read ({reason.lower()}); "
            "make it readable by this user or pass another with --config"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _expand(value: Any, env: Mapping[str, str], key: str, origin: Origin) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, env, f"{key}.{k}" if key else k, origin) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, f"{key}[{i}]", origin) for i, v in enumerate(value)]
    if isinstance(value, str):
        return _ENV_REF.sub(lambda match: _lookup(match[1], env, key, origin), value)
    return value


def _lookup(name: str, env: Mapping[str, str], key: str, origin: Origin) -> str:
    if name not in env:
        raise ConfigError(
            f'{key} = "${{{name}}}"{origin.where()}: environment variable {name} is not set; '
            f"export {name}=... before starting botgate, or write the value in the file"
        )
    return env[name]


def _apply_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """Apply the BOTGATE_* variables that are set; returns which key each one overrode."""
    applied = {}
    for variable, (section, key) in ENV_OVERRIDES.items():
        if env.get(variable):
            raw.setdefault(section, {})[key] = env[variable]
            applied[(section, key)] = variable
    return applied
