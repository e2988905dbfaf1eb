"""What the console's handlers share: the service parts it reads, its sessions, its templates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from adapters.base import Adapter
from gateway.bus.base import Bus
from gateway.config import Settings
from gateway.console.render import Templates
from gateway.console.sessions import Session, SessionKeeper, SignInLimiter
from gateway.http.health import HealthDeps
from gateway.kb.search import KnowledgeBase
from store.database import Database


@dataclass
class ConsoleDeps:
    settings: Settings
    db: Database
    bus: Bus
    kb: KnowledgeBase
    health: HealthDeps
    adapters: Mapping[tuple[str, str], Adapter]
    secret: bytes  # the console's own key, derived from security.secret_key (Vault.derive)
    # Called after a re-drive was queued: the core in this process publishes it at once.
    redrive_now: Callable[[], None] = field(default=lambda: None)


class Console:
    def __init__(self, deps: ConsoleDeps) -> None:
        self.deps = deps
        self.templates = Templates()
        self.sessions = SessionKeeper(deps.secret)
        self.sign_ins = SignInLimiter()


CONSOLE = web.AppKey("console", Console)
SESSION = web.RequestKey("console_session", Session)


def console(request: web.Request) -> Console:
    return request.config_dict[CONSOLE]
