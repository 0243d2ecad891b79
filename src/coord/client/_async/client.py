"""``coord.AsyncClient`` (and, generated from it, ``coord.Client``): a coord server's
API from Python, for agents that run elsewhere. The operations are those of
:mod:`coord.operations` by noun (``client.mail``, ``client.tasks``, ...), the same
as ``app.mail``, ``app.tasks``, ... on the database."""

from __future__ import annotations

from types import TracebackType

import httpx

from coord.client import calls, streams
from coord.client._async.runs import AsyncRemoteRuns
from coord.client._async.surface import (
    AsyncRemoteAgents,
    AsyncRemoteDeadLetters,
    AsyncRemoteMail,
    AsyncRemoteQueues,
    AsyncRemoteSurface,
    AsyncRemoteTasks,
)
from coord.client.models import EventPage
from coord.client.transport import AsyncTransport, api_base, headers
from coord.operations.results import Me


class AsyncClient:
    """A coord server, called as the agent of ``api_key`` (none: a server started
    with ``coord server --dev``).

    The operations are by noun, the same as an App's on the database: ``.agents``,
    ``.mail``, ``.tasks``, ``.queues``, ``.dead_letters``, ``.runs`` (see
    :mod:`coord.operations`). They return the models the API answers and raise
    coord's errors: ``Unauthenticated`` (401), ``Forbidden`` (403), ``NotFound``,
    ``InvalidInput`` (its ``data["field"]`` names the field), ``IdempotencyConflict``,
    ``Conflict``, ``RateLimited`` (``retry_after``), and ``ServerUnavailable`` when the
    server cannot be reached. Calls that are safe to repeat (reads, and writes with a
    key) are retried up to ``retries`` times after a 429 or 503, waiting as
    ``Retry-After`` says. ``AsyncClient`` is the asyncio form and ``Client`` the
    blocking one, method for method. Use it as a context manager, or close it.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = api_base(url)
        http = httpx.AsyncClient(
            base_url=base, headers=headers(api_key), timeout=timeout, transport=transport
        )
        self._t = AsyncTransport(http, base, retries)
        self._surface = AsyncRemoteSurface(self._t)

    async def aclose(self) -> None:
        """Close the connections."""
        await self._t.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient({self._t.url!r})"

    @property
    def agents(self) -> AsyncRemoteAgents:
        """Agents, the caller, subscriptions."""
        return self._surface.agents

    @property
    def mail(self) -> AsyncRemoteMail:
        """Messages and inboxes."""
        return self._surface.mail

    @property
    def tasks(self) -> AsyncRemoteTasks:
        """Tasks."""
        return self._surface.tasks

    @property
    def queues(self) -> AsyncRemoteQueues:
        """Queues."""
        return self._surface.queues

    @property
    def dead_letters(self) -> AsyncRemoteDeadLetters:
        """Dead tasks."""
        return self._surface.dead_letters

    @property
    def runs(self) -> AsyncRemoteRuns:
        """Workflows and runs (``client.runs.start(...)`` returns a run's handle)."""
        return self._surface.runs

    async def whoami(self) -> Me:
        """The calling agent, its role, permissions and authority domains."""
        return await self._surface.agents.me()

    # -- events ----------------------------------------------------------------------
    def events(
        self,
        *,
        topic: str | None = None,
        run: str | None = None,
        agent: str | None = None,
        after: str | None = None,
    ) -> streams.AsyncEventStream:
        """Events as they happen, after the cursor ``after`` (else from when it
        connects, at the first ``anext``), resuming by itself after a dropped
        connection. Use ``async for``; ``aclose`` it when done."""
        return streams.AsyncEventStream(self._t, calls.event_filters(topic, run, agent), after)

    async def event_page(
        self,
        *,
        topic: str | None = None,
        run: str | None = None,
        agent: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> EventPage:
        """Events after the cursor ``after`` (from the first without), one page."""
        return await self._t.do(
            calls.event_page(calls.event_filters(topic, run, agent), after, limit)
        )
