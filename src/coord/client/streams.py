"""The live event feed (Server-Sent Events), sync and async: an iterator that
reconnects after a dropped connection from the last event it gave (``Last-Event-ID``),
and ``receive``, which sleeps on the feed until a message arrives.

Why ``receive`` wakes on the feed and then asks the server for "the next unread
message": the server picks and marks it in one statement, so two receivers of one
inbox never get the same message; the one that loses the race goes back to sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
)
from types import TracebackType
from typing import Any

import httpx

from coord.client import problems, sse
from coord.client.transport import AsyncTransport, SyncTransport
from coord.domain.views import EventInfo, InboxMessage
from coord.errors import RateLimited, ServerUnavailable

# A receive looks at the inbox at least this often even if the feed says nothing: a
# stream opened without a cursor starts "now" on the server, a moment after it
# answered, and a message delivered in that moment must not wait forever.
RECHECK_S = 10.0
RECONNECT_FOR = 30.0  # keep reconnecting a dropped stream for this long, then raise


class _Link:
    """Where a stream stands: its cursor, and since when it keeps failing."""

    def __init__(self, url: str, cursor: str | None, reconnect_for: float) -> None:
        self.url, self.cursor, self.reconnect_for = url, cursor, reconnect_for
        self.failing_since: float | None = None
        self.failures = 0

    def see(self, message: sse.Message) -> EventInfo | None:
        """Note a message of the stream (it is alive); its event, if it carries one."""
        self.failing_since, self.failures = None, 0
        if message.id:
            self.cursor = message.id
        return None if message.data is None else EventInfo.model_validate_json(message.data)

    def failed(self, exc: Exception | None) -> float:
        """A connection failed or ended: how long to wait before the next (or raise)."""
        now = time.monotonic()
        self.failing_since = self.failing_since or now
        self.failures += 1
        if isinstance(exc, RateLimited):
            return exc.retry_after
        if now - self.failing_since > self.reconnect_for:
            if isinstance(exc, httpx.HTTPError):
                raise problems.unavailable(exc, self.url) from exc
            raise ServerUnavailable(
                f"the event stream of {self.url} keeps closing", url=self.url
            ) from exc
        return float(min(2.0, 0.1 * 2.0 ** (self.failures - 1)))


def _delivered(event: EventInfo | None, agent: str) -> bool:
    # The agent filter also shows the deliveries of the agent's own sends to others.
    return event is not None and (event.data or {}).get("agent") == agent


def _left(deadline: float | None) -> float:
    return RECHECK_S if deadline is None else min(RECHECK_S, deadline - time.monotonic())


class EventStream(Iterator[EventInfo]):
    """Events as they happen. It connects at ``with``, :meth:`connect` or the first
    ``next``; without a cursor it gives the events from then on. ``cursor`` is where
    it stands: give it as ``after`` to a later :meth:`coord.Client.events` to resume
    right after the last event seen."""

    def __init__(
        self, transport: SyncTransport, params: dict[str, Any], cursor: str | None
    ) -> None:
        self._transport, self._params = transport, params
        self._link = _Link(transport.url, cursor, RECONNECT_FOR)
        self._events = self._run()
        self._connected = False

    @property
    def cursor(self) -> str | None:
        """The cursor of the last event given (or the one it started from)."""
        return self._link.cursor

    def connect(self) -> EventStream:
        """Open the connection now (errors such as ``Forbidden`` are raised here)."""
        if not self._connected:
            next(self._events)  # the generator's first step stops once connected
            self._connected = True
        return self

    def __next__(self) -> EventInfo:
        self.connect()
        event = next(self._events)
        assert event is not None
        return event

    def close(self) -> None:
        """Close the connection."""
        self._events.close()

    def __enter__(self) -> EventStream:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> Generator[EventInfo | None, None, None]:
        link, first = self._link, True
        while True:
            error: Exception | None = None
            try:
                with self._transport.stream(self._params, link.cursor) as response:
                    if first:
                        first = False
                        yield None  # connected: connect() returns
                    parser = sse.Parser()
                    for line in response.iter_lines():
                        message = parser.feed(line)
                        event = None if message is None else link.see(message)
                        if event is not None:
                            yield event
            except (httpx.TransportError, RateLimited) as exc:
                if first:  # never connected: nothing to resume, say so at once
                    raise _first_failure(exc, self._transport.url) from exc
                error = exc
            time.sleep(link.failed(error))


class AsyncEventStream(AsyncIterator[EventInfo]):
    """Events as they happen (async); see :class:`EventStream`. It connects at
    ``async with``, :meth:`connect` or the first ``anext``."""

    def __init__(
        self, transport: AsyncTransport, params: dict[str, Any], cursor: str | None
    ) -> None:
        self._transport, self._params = transport, params
        self._link = _Link(transport.url, cursor, RECONNECT_FOR)
        self._events = self._run()
        self._connected = False

    @property
    def cursor(self) -> str | None:
        """The cursor of the last event given (or the one it started from)."""
        return self._link.cursor

    async def connect(self) -> AsyncEventStream:
        """Open the connection now (errors such as ``Forbidden`` are raised here)."""
        if not self._connected:
            await self._events.__anext__()
            self._connected = True
        return self

    async def __anext__(self) -> EventInfo:
        await self.connect()
        event = await self._events.__anext__()
        assert event is not None
        return event

    async def aclose(self) -> None:
        """Close the connection."""
        await self._events.aclose()

    async def __aenter__(self) -> AsyncEventStream:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self) -> AsyncGenerator[EventInfo | None, None]:
        link, first = self._link, True
        while True:
            error: Exception | None = None
            try:
                async with self._transport.stream(self._params, link.cursor) as response:
                    if first:
                        first = False
                        yield None
                    parser = sse.Parser()
                    async for line in response.aiter_lines():
                        message = parser.feed(line)
                        event = None if message is None else link.see(message)
                        if event is not None:
                            yield event
            except (httpx.TransportError, RateLimited) as exc:
                if first:
                    raise _first_failure(exc, self._transport.url) from exc
                error = exc
            await asyncio.sleep(link.failed(error))


def _first_failure(exc: Exception, url: str) -> Exception:
    return problems.unavailable(exc, url) if isinstance(exc, httpx.HTTPError) else exc


def receive(
    transport: SyncTransport,
    agent: str,
    take: Callable[[], InboxMessage | None],
    timeout: float | None,
) -> InboxMessage | None:
    """Take the next message of ``agent``'s inbox, sleeping on the feed until one is
    delivered; None after ``timeout`` seconds (None: wait as long as it takes)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    params = {"agent": agent, "topic": "message.delivered"}
    link = _Link(transport.url, None, RECONNECT_FOR)
    while True:
        window = _left(deadline)
        if window <= 0:
            return take()
        try:
            # Open the feed first, then look: a delivery after the look wakes us.
            with transport.stream(params, link.cursor, read=window) as response:
                found = take()
                if found is not None:
                    return found
                parser = sse.Parser()
                for line in response.iter_lines():
                    message = parser.feed(line)
                    event = None if message is None else link.see(message)
                    if _delivered(event, agent) or _left(deadline) <= 0:
                        break
        except httpx.ReadTimeout:
            pass  # the window passed quietly: look again
        except (httpx.TransportError, RateLimited) as exc:
            time.sleep(min(link.failed(exc), max(0.0, _left(deadline))))


async def areceive(
    transport: AsyncTransport,
    agent: str,
    take: Callable[[], Awaitable[InboxMessage | None]],
    timeout: float | None,
) -> InboxMessage | None:
    """Like :func:`receive`, async."""
    deadline = None if timeout is None else time.monotonic() + timeout
    params = {"agent": agent, "topic": "message.delivered"}
    link = _Link(transport.url, None, RECONNECT_FOR)
    while True:
        window = _left(deadline)
        if window <= 0:
            return await take()
        try:
            async with transport.stream(params, link.cursor, read=window) as response:
                found = await take()
                if found is not None:
                    return found
                parser = sse.Parser()
                async for line in response.aiter_lines():
                    message = parser.feed(line)
                    event = None if message is None else link.see(message)
                    if _delivered(event, agent) or _left(deadline) <= 0:
                        break
        except httpx.ReadTimeout:
            pass
        except (httpx.TransportError, RateLimited) as exc:
            await asyncio.sleep(min(link.failed(exc), max(0.0, _left(deadline))))
