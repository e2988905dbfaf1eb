"""What the platform emulators share: an aiohttp server on an ephemeral 127.0.0.1 port, run as
an async context manager; the calls it recorded, with their answers; the deliveries it made to
the bot; fault knobs; and the one read-back API (`sent`, `wait_for`, `calls`).

A platform emulator subclasses `EmulatorServer`, adds its routes in `_routes`, renders errors in
its platform's shape in `_error`, and keeps only its platform's protocol::

    class PagerEmulator(EmulatorServer[Call]):
        platform = "pager"

        def _routes(self, router: web.UrlDispatcher) -> None:
            router.add_post("/api/{method}", self._page)

        def _error(self, status: int, text: str) -> web.Response:
            return web.json_response({"error": text}, status=status)

No exception raised inside an emulator reaches the bot's test as the emulator's own traceback:
a malformed request (`Malformed`) is answered 400 in the platform's shape, anything else 500,
and both are kept in `errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, TypeVar

import aiohttp
from aiohttp import web

from botgate.testing.faults import Clock, Fault, Faults
from botgate.testing.sent import Match, Sent, describe_calls, matcher, nothing_matched

Json = dict[str, Any]
log = logging.getLogger("botgate.testing")
# The call the request being answered recorded (each request runs in a task of its own).
_CALL: contextvars.ContextVar[Call | None] = contextvars.ContextVar("botgate_call", default=None)


@dataclass(kw_only=True)
class Call:
    """One API request as an emulator received it, and how it was answered. `name` is what
    `calls()` and the fault knobs match: the Bot API or Web API method, or for Discord the
    route ("POST /channels/{channel_id}/messages")."""

    name: str
    status: int | None = None  # the HTTP status of the answer, once answered
    error: str | None = None  # the platform's error text when the call failed
    fault: str | None = None  # the injected fault that answered it, if one did

    def outcome(self, status: int, error: str | None = None) -> None:
        self.status, self.error = status, error


@dataclass(kw_only=True)
class ApiCall(Call):
    """A call of a Web API addressed by method name (Telegram's, Slack's)."""

    http_method: str
    params: Json
    headers: Mapping[str, str]

    @property
    def api_method(self) -> str:
        return self.name


Record = TypeVar("Record", bound=Call)


@dataclass(frozen=True)
class DeliveryResult:
    """The bot's HTTP answer to one delivery the emulator made."""

    status: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Delivery:
    """One thing the emulator delivered to the bot, the way the platform delivers it: `via`
    names the channel ("webhook", "getUpdates", "events_api", "socket_mode", "gateway",
    "interactions_endpoint"); `answer` is the bot's HTTP answer or Socket Mode
    acknowledgement, when that channel has one."""

    via: str
    payload: Json
    answer: DeliveryResult | None = None

    @property
    def accepted(self) -> bool:
        return self.answer is None or 200 <= self.answer.status < 300


class Malformed(Exception):
    """A request the platform would refuse as malformed: answered 400 in its shape."""


async def post(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str]
) -> DeliveryResult:
    """POST `body` to `url`; the answer as a DeliveryResult."""
    async with http.post(url, data=body, headers=headers) as resp:
        return DeliveryResult(resp.status, await resp.text(), dict(resp.headers))


class EmulatorServer(Generic[Record]):
    """Base of the emulators: serves `_routes` on an ephemeral 127.0.0.1 port while entered,
    with a ClientSession for deliveries. `requests` holds the calls received, oldest first;
    `deliveries` what was delivered to the bot; `errors` the emulator's own failures."""

    platform: ClassVar[str] = "platform"
    # aiohttp's shutdown wait for handlers still running, and its access logger (None: none).
    shutdown_timeout: ClassVar[float] = 60.0
    access_log: ClassVar[logging.Logger | None] = None

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self.requests: list[Record] = []
        self.deliveries: list[Delivery] = []
        self.errors: list[str] = []
        self.faults = Faults(clock, self._name_matches)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._changed = asyncio.Condition()

    # subclasses

    def _routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    def _error(self, status: int, text: str) -> web.StreamResponse:
        """An error answer in the platform's shape."""
        raise NotImplementedError

    def _fault_answer(self, fault: Fault) -> web.StreamResponse:
        """The answer of a rate-limit, server-error or error fault, in the platform's shape."""
        raise NotImplementedError

    def sent(self, chat: int | str) -> list[Sent]:
        """What the bot sent to `chat` and has not deleted, oldest first, as it is now."""
        raise NotImplementedError

    def _all_sent(self) -> Iterable[Sent]:
        raise NotImplementedError

    def _name_matches(self, pattern: str, name: str) -> bool:
        return pattern == "*" or pattern == name

    async def _stopping(self) -> None:
        """Called first on exit, while the server still runs."""

    # lifecycle

    async def __aenter__(self) -> Self:
        app = web.Application(middlewares=[self._guard])
        self._routes(app.router)
        self._runner = web.AppRunner(
            app, access_log=self.access_log, shutdown_timeout=self.shutdown_timeout
        )
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        except BaseException:
            await self._runner.cleanup()
            raise
        self.port = self._runner.addresses[0][1]
        self._http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stopping()
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Malformed requests get the platform's 400; the emulator's own bugs its 500."""
        _CALL.set(None)  # requests on one keep-alive connection share a task
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Malformed as exc:
            self._fail_call(400, str(exc))
            return self._error(400, str(exc))
        except Exception as exc:
            text = f"emulator error in {request.method} {request.path}: {exc!r}"
            self.errors.append(text + "\n" + traceback.format_exc())
            log.error("%s", text, exc_info=True)
            self._fail_call(500, text)
            return self._error(500, text)
        finally:
            await self._touch()

    def _record(self, call: Record) -> Record:
        """Keep `call`, tied to its request so that a failure answering it is recorded on it."""
        self.requests.append(call)
        _CALL.set(call)
        return call

    def _fail_call(self, status: int, text: str) -> None:
        call = _CALL.get()
        if call is not None and call.status is None:
            call.outcome(status, text)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def clock(self) -> Clock:
        """What the fault knobs' `seconds` are measured with (default `time.monotonic`)."""
        return self.faults.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.faults.clock = clock

    def _session(self) -> aiohttp.ClientSession:
        """The ClientSession deliveries go through; open while the emulator is entered."""
        assert self._http is not None, "use the emulator as an async context manager"
        return self._http

    # recording

    def calls(self, name: str | None = None) -> list[Record]:
        """Recorded calls, oldest first; with `name`, those `name` matches ("*" all)."""
        if name is None:
            return list(self.requests)
        return [c for c in self.requests if self._name_matches(name, c.name)]

    def not_emulated(self) -> list[Record]:
        """Calls of methods the emulator does not serve (answered "not emulated: ...")."""
        return [c for c in self.requests if c.error and "not emulated: " in c.error]

    async def _touch(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _delivered(self, delivery: Delivery) -> Delivery:
        self.deliveries.append(delivery)
        return delivery

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, *, what: str = "condition"
    ) -> None:
        """Wait until `predicate()` holds; AssertionError naming `what` and the recent calls
        otherwise."""
        __tracebackhide__ = True
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._next_change()
        except TimeoutError:
            recent = describe_calls(self.requests[-10:])
            raise AssertionError(
                f"{self.platform} emulator: {what} did not happen within {timeout}s.\n{recent}"
            ) from None

    async def wait_for_calls(self, name: str, count: int = 1, timeout: float = 5.0) -> list[Record]:
        """Wait until `count` calls `name` matches were received; those calls."""
        __tracebackhide__ = True
        await self.wait_until(
            lambda: len(self.calls(name)) >= count, timeout, what=f"{count} call(s) of {name}"
        )
        return self.calls(name)

    async def wait_for(
        self, chat: int | str, match: Match = None, *, count: int = 1, timeout: float = 5.0
    ) -> Sent:
        """Wait until the bot has sent `count` messages to `chat` that `match` (None: any;
        a str: the text contains it; a compiled regex: it searches the text; a callable: it
        returns True for the `Sent`); the `count`-th of them, oldest first. Edits count as
        they happen: a message edited to match matches. On timeout, AssertionError showing
        what the bot sent instead, the calls that failed and what the emulator does not serve.
        """
        __tracebackhide__ = True
        test = matcher(match)

        def hit() -> Sent | None:
            hits = [message for message in self.sent(chat) if test(message)]
            return hits[count - 1] if len(hits) >= count else None

        try:
            async with asyncio.timeout(timeout):
                while (found := hit()) is None:
                    await self._next_change()
        except TimeoutError:
            raise AssertionError(self._nothing_matched(chat, match, count, timeout)) from None
        return found

    def _nothing_matched(self, chat: int | str, match: Match, count: int, timeout: float) -> str:
        refused = [d for d in self.deliveries if not d.accepted][-5:]
        return nothing_matched(
            platform=self.platform,
            chat=str(chat),
            match=match,
            count=count,
            timeout=timeout,
            here=self.sent(chat),
            elsewhere=[s for s in self._all_sent() if s.chat != str(chat)],
            failed=[c for c in self.requests if c.error][-5:],
            refused=[f"{d.via} answered {d.answer.status}" for d in refused if d.answer],
            errors=[e.splitlines()[0] for e in self.errors[-3:]],
        )

    async def _next_change(self) -> None:
        async with self._changed:
            # Woken by the emulator's own changes; the short wait sees anyone else's.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.05)

    # faults

    async def _faulted(
        self, request: web.Request, call: Record, **context: Any
    ) -> web.StreamResponse | None:
        """Apply the faults active for `call`: wait out latency, then the answer of a
        rate-limit or error fault, or a dropped connection (an empty response after the
        transport is closed); None when the call goes through."""
        for fault in self.faults.take(call.name, **context):
            call.fault = fault.kind
            if fault.kind == "latency":
                await asyncio.sleep(fault.delay)
            elif fault.kind == "drop":
                call.outcome(0, "connection dropped")
                if request.transport is not None:
                    request.transport.close()
                return web.Response()
            else:
                answer = self._fault_answer(fault)
                call.outcome(answer.status, fault.describe())
                return answer
        return None

    def rate_limit(
        self,
        name: str,
        *,
        retry_after: float = 1,
        times: int | None = None,
        seconds: float | None = None,
        until_cleared: bool = False,
    ) -> Fault:
        """Calls `name` matches ("*": all) answer the platform's 429 with its retry hint: the
        next call, the next `times`, for `seconds` of `clock`, or `until_cleared`."""
        return self.faults.add(
            Fault("rate_limit", name, retry_after=retry_after),
            times=times, seconds=seconds, until_cleared=until_cleared,
        )

    def server_error(
        self,
        name: str,
        *,
        status: int = 500,
        times: int | None = None,
        seconds: float | None = None,
        until_cleared: bool = False,
    ) -> Fault:
        """Calls `name` matches answer a 5xx in the platform's shape (see `rate_limit`)."""
        return self.faults.add(
            Fault("server_error", name, status=status),
            times=times, seconds=seconds, until_cleared=until_cleared,
        )

    def latency(
        self,
        name: str,
        delay: float,
        *,
        times: int | None = None,
        seconds: float | None = None,
        until_cleared: bool = False,
    ) -> Fault:
        """Calls `name` matches are answered `delay` seconds late (see `rate_limit`)."""
        return self.faults.add(
            Fault("latency", name, delay=delay),
            times=times, seconds=seconds, until_cleared=until_cleared,
        )

    def drop(
        self,
        name: str,
        *,
        times: int | None = None,
        seconds: float | None = None,
        until_cleared: bool = False,
    ) -> Fault:
        """Calls `name` matches lose their connection without an answer (see `rate_limit`)."""
        return self.faults.add(
            Fault("drop", name), times=times, seconds=seconds, until_cleared=until_cleared
        )

    def outage(
        self, *, status: int = 502, seconds: float | None = None, until_cleared: bool = False
    ) -> Fault:
        """The platform is down: every call answers `status` for `seconds` of `clock`, or until
        `clear_faults()` / the returned fault's `clear()`."""
        if seconds is None and not until_cleared:
            raise ValueError("outage: give seconds=... or until_cleared=True")
        return self.server_error("*", status=status, seconds=seconds, until_cleared=until_cleared)

    def clear_faults(self, name: str | None = None) -> None:
        """End the faults set for `name` (None: all)."""
        self.faults.clear(name)


def json_params(value: Any, what: str) -> Any:
    """A JSON text parameter decoded, or Malformed naming `what`."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise Malformed(f"can't parse {what} JSON object") from None

