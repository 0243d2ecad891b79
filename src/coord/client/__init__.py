"""The Python client of a coord server: :class:`Client` (blocking) and
:class:`AsyncClient` (asyncio), for agents that reach coord over HTTP instead of
opening its database. Both offer the operations of :mod:`coord.operations`.

It depends on the read models of :mod:`coord.domain`, on :mod:`coord.operations`'
declarations and on :mod:`coord.errors` only, never on the engine or the storage
(an import rule says so). ``_sync`` is generated from ``_async`` by
``scripts/generate_sync.py``.
"""

from coord.client._async.client import AsyncClient
from coord.client._sync.client import Client
from coord.client.models import EventPage
from coord.client.streams import AsyncEventStream, EventStream
from coord.operations._async.handles import AsyncRunHandle
from coord.operations._sync.handles import RunHandle
from coord.operations.queries import Draft, EnqueueOptions, InboxQuery, RunFilter, TaskFilter
from coord.operations.results import Enqueued, Me, Started, Subscription

__all__ = [
    "AsyncClient",
    "AsyncEventStream",
    "AsyncRunHandle",
    "Client",
    "Draft",
    "EnqueueOptions",
    "Enqueued",
    "EventPage",
    "EventStream",
    "InboxQuery",
    "Me",
    "RunFilter",
    "RunHandle",
    "Started",
    "Subscription",
    "TaskFilter",
]
