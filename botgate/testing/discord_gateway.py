"""The Discord gateway as the emulator speaks it (API v10, JSON, optionally `zlib-stream`
compressed): HELLO (op 10), IDENTIFY (op 2) -> READY and GUILD_CREATE, heartbeats (op 1) and
their ACKs (op 11), dispatches (op 0) with sequence numbers, RESUME (op 6) after a dropped
connection -> the missed dispatches replayed and RESUMED, INVALID_SESSION (op 9)."""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

Json = dict[str, Any]
INTENT_MESSAGE_CONTENT = 1 << 15


@dataclass
class _Connection:
    socket: web.WebSocketResponse
    compressor: Any | None  # zlib compressobj for `compress=zlib-stream`

    async def send(self, payload: Json) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        if self.compressor is None:
            await self.socket.send_str(text)
            return
        data = self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        await self.socket.send_bytes(data)


@dataclass
class Session:
    id: str
    intents: int
    seq: int = 0
    backlog: deque[Json] = field(default_factory=lambda: deque(maxlen=1000))
    connection: _Connection | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class DiscordGateway:
    """The gateway websocket; `DiscordEmulator` holds the world it reports."""

    token: str
    heartbeat_interval: float
    application_id: str
    bot_user: Json
    guilds: dict[str, Json]
    gateway_ops: list[Json]
    sessions: dict[str, Session]
    _session_ready: asyncio.Condition
    _established: int
    _sockets: set[web.WebSocketResponse]

    @property
    def gateway_url(self) -> str:
        raise NotImplementedError

    async def dispatch(self, event: str, data: Json) -> int | None:
        """Send a dispatch (op 0) to every session; a disconnected one gets it on RESUME.

        Returns the sequence number of the last session it went to (None: no session)."""
        seq = None
        for session in list(self.sessions.values()):
            seq = await self._dispatch_to(session, event, data)
        return seq

    async def _dispatch_to(self, session: Session, event: str, data: Json) -> int:
        async with session.lock:
            session.seq += 1
            payload = {"op": 0, "t": event, "s": session.seq, "d": _visible(data, session.intents)}
            session.backlog.append(payload)
            await self._send(session, payload)
            return session.seq

    async def _send(self, session: Session, payload: Json) -> None:
        connection = session.connection
        if connection is None:
            return
        try:
            await connection.send(payload)
        except (ConnectionResetError, RuntimeError):
            session.connection = None

    async def drop_connections(self, code: int = 4000) -> None:
        """Close every gateway connection as a network failure would; sessions stay resumable."""
        for session in self.sessions.values():
            connection, session.connection = session.connection, None
            if connection is not None:
                await connection.socket.close(code=code)

    async def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """INVALID_SESSION (op 9) to every connected session; it must IDENTIFY again."""
        for session in list(self.sessions.values()):
            async with session.lock:
                await self._send(session, {"op": 9, "d": resumable, "s": None, "t": None})
            if not resumable:
                self.sessions.pop(session.id, None)

    async def wait_for_session(self, count: int = 1, within: float = 10) -> None:
        """Wait until `count` sessions have been established (READY) or resumed since start."""
        async with asyncio.timeout(within), self._session_ready:
            await self._session_ready.wait_for(lambda: self._established >= count)

    def ops(self, op: int) -> list[Json]:
        return [payload for payload in self.gateway_ops if payload.get("op") == op]

    # the gateway websocket

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(max_msg_size=0)
        await socket.prepare(request)
        self._sockets.add(socket)
        compress = request.query.get("compress") == "zlib-stream"
        connection = _Connection(socket, zlib.compressobj() if compress else None)
        try:
            await connection.send(
                {
                    "op": 10,
                    "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)},
                    "s": None,
                    "t": None,
                }
            )
            async for message in socket:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    payload = json.loads(message.data)
                except ValueError:
                    await socket.close(code=4002, message=b"Error while decoding payload.")
                    break
                await self._on_gateway_payload(connection, payload)
        finally:
            self._sockets.discard(socket)
            self._detach(connection)
        return socket

    def _detach(self, connection: _Connection) -> None:
        for session in self.sessions.values():
            if session.connection is connection:
                session.connection = None

    async def _on_gateway_payload(self, connection: _Connection, payload: Json) -> None:
        self.gateway_ops.append(payload)
        op, data = payload.get("op"), payload.get("d") or {}
        if op == 1:
            await connection.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(connection, data)
        elif op == 6:
            await self._resume(connection, data)

    async def _identify(self, connection: _Connection, data: Json) -> None:
        if data.get("token") != self.token:
            await connection.socket.close(code=4004, message=b"Authentication failed.")
            return
        for stale in [s for s in self.sessions.values() if s.connection is None]:
            self.sessions.pop(stale.id)  # abandoned by a client that identified anew
        session = Session(id=secrets.token_hex(16), intents=int(data.get("intents", 0)))
        self.sessions[session.id] = session
        session.connection = connection
        await self._dispatch_to(session, "READY", self._ready_payload(session))
        for guild in self.guilds.values():
            await self._dispatch_to(session, "GUILD_CREATE", {**guild, "unavailable": False})
        await self._established_one()

    def _ready_payload(self, session: Session) -> Json:
        return {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": guild_id, "unavailable": True} for guild_id in self.guilds],
            "session_id": session.id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "session_type": "normal",
        }

    async def _resume(self, connection: _Connection, data: Json) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.token:
            await connection.send({"op": 9, "d": False, "s": None, "t": None})
            return
        async with session.lock:
            missed = [p for p in session.backlog if p["s"] > int(data.get("seq") or 0)]
            session.connection = connection
            for payload in missed:
                await connection.send(payload)
            session.seq += 1
            await connection.send({"op": 0, "t": "RESUMED", "s": session.seq, "d": {}})
        await self._established_one()

    async def _established_one(self) -> None:
        async with self._session_ready:
            self._established += 1
            self._session_ready.notify_all()


def _visible(data: Json, intents: int) -> Json:
    """Without the MESSAGE_CONTENT intent, Discord blanks what other users wrote."""
    if intents & INTENT_MESSAGE_CONTENT or "content" not in data or "author" not in data:
        return data
    return {**data, "content": "", "attachments": [], "embeds": [], "components": []}
