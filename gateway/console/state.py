"""What the console's handlers share: the service parts it reads, its sessions, its templates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from adapters.base import Adapter
from gateway.bus.base import Bus
from gateway.config import Settings
from gateway.console.render import Templates
from gateway.console.sessions import Session, SessionStore, SignInLimiter
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
    # Called after a re-drive was queued: the core in this process publishes it at once.
    redrive_now: Callable[[], None] = field(default=lambda: None)


@dataclass
class Console:
    deps: ConsoleDeps
    templates: Templates = field(default_factory=Templates)
    sessions: SessionStore = field(default_factory=SessionStore)
    sign_ins: SignInLimiter = field(default_factory=SignInLimiter)


CONSOLE = web.AppKey("console", Console)
SESSION = web.RequestKey("console_session", Session)
SESSION_ID = web.RequestKey("console_session_id", str)


def console(request: web.Request) -> Console:
    return request.config_dict[CONSOLE]
