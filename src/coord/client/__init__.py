"""The Python client of a coord server: :class:`Client` (sync) and
:class:`AsyncClient` (asyncio), for agents that reach coord over HTTP instead of
opening its database.

It depends on the read models of :mod:`coord.domain` and on :mod:`coord.errors`
only, never on the engine or the storage (an import rule says so).
"""

from coord.client.aio import AsyncClient
from coord.client.models import Draft, Enqueued, EventPage, Me, Sent, Started, Subscription
from coord.client.streams import AsyncEventStream, EventStream
from coord.client.sync import Client

__all__ = [
    "AsyncClient",
    "AsyncEventStream",
    "Client",
    "Draft",
    "Enqueued",
    "EventPage",
    "EventStream",
    "Me",
    "Sent",
    "Started",
    "Subscription",
]
