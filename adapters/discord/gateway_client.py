"""The gateway connection: a discord.py client, held by one process, publishing in order.

discord.py keeps the connection (IDENTIFY, heartbeats, RESUME, reconnects, rate limits) and its
guild and channel cache. The events are built from the dispatches exactly as Discord sent them
(`on_socket_raw_receive`), so that `raw` is Discord's payload and reactions and departures can
be keyed on the dispatch's session and sequence number. Dispatches are queued in arrival order
and published by one task, which retries until the bus confirms: a bus outage delays events
but loses none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import discord

from adapters.base import Lease
from adapters.discord.dispatches import ChannelInfo, Dispatch, DispatchNormalizer
from adapters.discord.rest import RoutedHTTPClient
from gateway import codec
from gateway.config import DiscordConfig
from gateway.events import Event

log = logging.getLogger(__name__)
Publish = Callable[[Event], Awaitable[None]]


def gateway_intents() -> discord.Intents:
    """Guilds, members, guild and direct messages, their reactions, and message content."""
    intents = discord.Intents.none()
    intents.guilds = intents.members = intents.message_content = True
    intents.guild_messages = intents.dm_messages = True
    intents.guild_reactions = intents.dm_reactions = True
    return intents


class GatewayClient(discord.Client):
    """A discord.py client for one bot's gateway; hands every dispatch to `on_dispatch`."""

    def __init__(self, config: DiscordConfig, on_dispatch: Callable[[Dispatch], None]) -> None:
        super().__init__(
            intents=gateway_intents(),
            enable_debug_events=True,  # on_socket_raw_receive: the dispatches as Discord sent them
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
            max_messages=None,
        )
        self.routed_http = RoutedHTTPClient.for_bot(self.loop, config)
        self.http = self._connection.http = self.routed_http
        self._on_dispatch = on_dispatch
        self.session_id = ""

    async def on_socket_raw_receive(self, message: str) -> None:
        payload = codec.loads(message)
        if payload.get("op") != 0:
            return
        if payload["t"] == "READY":
            self.session_id = payload["d"]["session_id"]
        self._on_dispatch(Dispatch(payload["t"], payload["s"], payload["d"] or {}, self.session_id))

    # the Directory the normalizer reads

    def channel_info(self, guild_id: str, channel_id: str) -> ChannelInfo | None:
        guild = self.get_guild(int(guild_id))
        channel = guild.get_channel_or_thread(int(channel_id)) if guild else None
        if channel is None:
            return None
        return ChannelInfo(type=channel.type.value, name=channel.name)

    def guild_name(self, guild_id: str) -> str | None:
        guild = self.get_guild(int(guild_id))
        return guild.name if guild else None


class GatewayRunner:
    """Runs one bot's gateway while this process holds the bot's gateway lease."""

    def __init__(
        self,
        bot: str,
        config: DiscordConfig,
        lock: Lease,
        publish: Publish,
        retry_delay: float = 5.0,
    ) -> None:
        self.bot = bot
        self.config = config
        self.lock = lock
        self.publish = publish
        self.retry_delay = retry_delay
        self.client: GatewayClient | None = None
        self.connected = asyncio.Event()  # set once a client has logged in and is connecting
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._normalizer: DispatchNormalizer | None = None

    async def run(self) -> None:
        """Until cancelled: wait for the lock, hold the gateway, start over when it ends."""
        publisher = asyncio.create_task(self._publish_forever())
        try:
            while True:
                await self._hold_once()
                await asyncio.sleep(self.retry_delay)
        finally:
            await self._drain(publisher)

    async def _hold_once(self) -> None:
        await self.lock.acquire()
        log.info("holding the Discord gateway of %s", self.bot)
        try:
            await self._connect_until_lost()
        except Exception as exc:  # a bad token, an outage: log it, wait, try again
            log.warning("Discord gateway of %s ended: %s", self.bot, type(exc).__name__)
        finally:
            await self.lock.release()

    async def _connect_until_lost(self) -> None:
        client = self.client = GatewayClient(self.config, self._on_dispatch)
        try:
            await client.login(self.config.token)
            http = client.routed_http
            http.gateway_url = await http.gateway_for_bot(self.config.gateway_url)
            assert client.user is not None
            self._normalizer = DispatchNormalizer(
                self.bot, str(client.user.id), client.user.name, client
            )
            self.connected.set()
            await _first_of(client.connect(reconnect=True), self.lock.lost())
        finally:
            self.connected.clear()
            await client.close()

    def _on_dispatch(self, dispatch: Dispatch) -> None:
        if self._normalizer is None:
            return
        for event in self._normalizer.events(dispatch):
            self._queue.put_nowait(event)

    async def _publish_forever(self) -> None:
        while True:
            event = await self._queue.get()
            await self._publish_with_retry(event)
            self._queue.task_done()

    async def _publish_with_retry(self, event: Event) -> None:
        delay = 0.5
        while True:
            try:
                await self.publish(event)
                return
            except Exception as exc:  # the bus said no: keep the event, try again
                log.warning("publishing a Discord event failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _drain(self, publisher: asyncio.Task[None], within: float = 5.0) -> None:
        """On shutdown, publish what already arrived (the gateway is closed by now)."""
        try:
            async with asyncio.timeout(within):
                await self._queue.join()
        except TimeoutError:
            log.warning("shutting down with %d Discord events unpublished", self._queue.qsize())
        publisher.cancel()
        await asyncio.gather(publisher, return_exceptions=True)


async def _first_of(*coroutines: Awaitable[None]) -> None:
    """Run until the first finishes (re-raising its error), then cancel the others."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
