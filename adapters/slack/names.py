"""User and channel names through `users.info` / `conversations.info`, cached with a lifetime.

`parse` is synchronous and Slack wants an answer within 3 seconds, so webhook events take what
the cache holds and the misses are fetched in the background for the next event; the Socket
Mode path can afford to wait for them (briefly) before publishing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from gateway.events import ChannelRef, ChannelType, Event, UserRef

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class UserInfo:
    name: str | None
    display_name: str | None
    is_bot: bool
    locale: str | None


@dataclass(frozen=True)
class ChannelInfo:
    name: str | None
    type: ChannelType


NAMES_KEPT = 10_000  # users and channels each; a workspace's active ones fit many times over
V = TypeVar("V")


class NameCache:
    """Names by Slack id; `None` entries remember ids Slack does not know."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self.client: AsyncWebClient | None = None
        self._users: dict[str, tuple[float, UserInfo | None]] = {}
        self._channels: dict[str, tuple[float, ChannelInfo | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def user(self, user_id: str) -> UserInfo | None:
        return self._fresh(self._users, user_id)

    def channel(self, channel_id: str) -> ChannelInfo | None:
        return self._fresh(self._channels, channel_id)

    def apply(self, event: Event) -> Event:
        """`event` with the names the cache knows filled in where the payload had none."""
        update: dict[str, Any] = {"channel": self._channel_ref(event.channel)}
        if event.user is not None:
            update["user"] = self._user_ref(event.user)
        return event.model_copy(update=update)

    def missing(self, events: Iterable[Event]) -> tuple[set[str], set[str]]:
        """User ids and channel ids of `events` that the cache does not hold."""
        users = {e.user.id for e in events if e.user and not self._known(self._users, e.user.id)}
        channels = {e.channel.id for e in events if not self._known(self._channels, e.channel.id)}
        return users, channels

    async def resolve(self, user_ids: Iterable[str], channel_ids: Iterable[str]) -> None:
        """Fetch the given ids (concurrently); failures are logged and leave no entry."""
        fetches = [self._fetch_user(uid) for uid in user_ids]
        fetches += [self._fetch_channel(cid) for cid in channel_ids]
        await asyncio.gather(*fetches)

    def warm(self, events: Iterable[Event]) -> None:
        """Fetch what `events` miss in the background (no-op without a client or a loop)."""
        users, channels = self.missing(events)
        if self.client is None or not (users or channels):
            return
        try:
            task = asyncio.get_running_loop().create_task(self.resolve(users, channels))
        except RuntimeError:
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _fresh(self, table: dict[str, tuple[float, T | None]], key: str) -> T | None:
        entry = table.get(key)
        return entry[1] if entry and entry[0] > self.clock() else None

    def _known(self, table: dict[str, tuple[float, Any]], key: str) -> bool:
        entry = table.get(key)
        return entry is not None and entry[0] > self.clock()

    async def _fetch_user(self, user_id: str) -> None:
        data = await self._call("users_info", user=user_id, include_locale=True)
        if data is not None:
            user = data.get("user") or {}
            info = _user_info(user) if user else None
            _keep(self._users, user_id, (self.clock() + self.ttl, info))

    async def _fetch_channel(self, channel_id: str) -> None:
        data = await self._call("conversations_info", channel=channel_id)
        if data is not None:
            channel = data.get("channel") or {}
            info = _channel_info(channel) if channel else None
            _keep(self._channels, channel_id, (self.clock() + self.ttl, info))

    async def _call(self, method: str, **params: Any) -> dict[str, Any] | None:
        """The response data; `{}` when Slack says the id does not exist; None on failure."""
        if self.client is None:
            return None
        try:
            response = await getattr(self.client, method)(**params)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in {"user_not_found", "channel_not_found"}:
                return {}
            log.warning("slack %s failed: %s", method, error)
            return None
        except (OSError, TimeoutError) as exc:
            log.warning("slack %s unreachable: %s", method, type(exc).__name__)
            return None
        return dict(response.data) if isinstance(response.data, dict) else None

    def _user_ref(self, user: UserRef) -> UserRef:
        info = self.user(user.id)
        if info is None:
            return user
        return user.model_copy(update={
            "name": user.name or info.name,
            "display_name": user.display_name or info.display_name,
            "is_bot": user.is_bot or info.is_bot,
            "locale": user.locale or info.locale,
        })

    def _channel_ref(self, channel: ChannelRef) -> ChannelRef:
        info = self.channel(channel.id)
        if info is None:
            return channel
        return channel.model_copy(update={"name": channel.name or info.name, "type": info.type})


def _user_info(user: dict[str, Any]) -> UserInfo:
    profile = user.get("profile") or {}
    display = profile.get("display_name") or profile.get("real_name") or user.get("real_name")
    return UserInfo(
        name=user.get("name"),
        display_name=display or None,
        is_bot=bool(user.get("is_bot")),
        locale=user.get("locale"),
    )


def _channel_info(channel: dict[str, Any]) -> ChannelInfo:
    kind: ChannelType = "channel"
    if channel.get("is_im"):
        kind = "direct"
    elif channel.get("is_mpim"):
        kind = "group"
    return ChannelInfo(name=channel.get("name"), type=kind)


def _keep(table: dict[str, V], key: str, value: V) -> None:
    """Store, dropping the oldest entries past NAMES_KEPT: ids in signed payloads are the
    sender's to choose, and each unknown one is remembered (as None) for the TTL."""
    table.pop(key, None)
    table[key] = value
    while len(table) > NAMES_KEPT:
        del table[next(iter(table))]
