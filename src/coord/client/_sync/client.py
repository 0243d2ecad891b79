"""``coord.AsyncClient`` (and, generated from it, ``coord.Client``): a coord server's
API from Python, for agents that run elsewhere. The operations are those of
:mod:`coord.operations` by noun (``client.mail``, ``client.tasks``, ...), the same
as ``app.mail``, ``app.tasks``, ... on the database."""

from __future__ import annotations

from types import TracebackType

import httpx

from coord.client import calls, streams
from coord.client._sync.runs import RemoteRuns
from coord.client._sync.surface import (
    RemoteAgents,
    RemoteDeadLetters,
    RemoteMail,
    RemoteQueues,
    RemoteSurface,
    RemoteTasks,
)
from coord.client.models import EventPage
from coord.client.transport import SyncTransport, api_base, headers
from coord.operations.results import Me


class Client:
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = api_base(url)
        http = httpx.Client(
            base_url=base, headers=headers(api_key), timeout=timeout, transport=transport
        )
        self._t = SyncTransport(http, base, retries)
        self._surface = RemoteSurface(self._t)

    def close(self) -> None:
        """Close the connections."""
        self._t.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AsyncClient({self._t.url!r})"

    @property
    def agents(self) -> RemoteAgents:
        """Agents, the caller, subscriptions."""
        return self._surface.agents

    @property
    def mail(self) -> RemoteMail:
        """Messages and inboxes."""
        return self._surface.mail

    @property
    def tasks(self) -> RemoteTasks:
        """Tasks."""
        return self._surface.tasks

    @property
    def queues(self) -> RemoteQueues:
        """Queues."""
        return self._surface.queues

    @property
    def dead_letters(self) -> RemoteDeadLetters:
        """Dead tasks."""
        return self._surface.dead_letters

    @property
    def runs(self) -> RemoteRuns:
        """Workflows and runs (``client.runs.start(...)`` returns a run's handle)."""
        return self._surface.runs

    def whoami(self) -> Me:
        """The calling agent, its role, permissions and authority domains."""
        return self._surface.agents.me()

    # -- events ----------------------------------------------------------------------
    def events(
        self,
        *,
        topic: str | None = None,
        run: str | None = None,
        agent: str | None = None,
        after: str | None = None,
    ) -> streams.EventStream:
        """Events as they happen, after the cursor ``after`` (else from when it
        connects, at the first ``anext``), resuming by itself after a dropped
        connection. Use ``async for``; ``aclose`` it when done."""
        return streams.EventStream(self._t, calls.event_filters(topic, run, agent), after)

    def event_page(
        self,
        *,
        topic: str | None = None,
        run: str | None = None,
        agent: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> EventPage:
        """Events after the cursor ``after`` (from the first without), one page."""
        return self._t.do(calls.event_page(calls.event_filters(topic, run, agent), after, limit))
