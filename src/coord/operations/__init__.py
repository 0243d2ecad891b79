"""One surface for every face: each operation a user can perform, declared once.

The operations are grouped by noun (``agents``, ``mail``, ``tasks``, ``queues``,
``dead_letters``, ``runs``) and declared as typed Protocols, in an asyncio form
(:class:`AsyncSurface`) and a blocking one (:class:`Surface`, generated from the
first by ``scripts/generate_sync.py``). Two implementations offer them alike:

- locally, over the database, as a principal: ``app.mail``, ``app.tasks``, ... (and
  ``app.aio.mail``, ... for asyncio), in :mod:`coord.operations._sync.local`;
- remotely, over HTTP: ``coord.Client(url, key).mail``, ... and ``AsyncClient``.

A run's operations also hang off its handle (:class:`RunHandle`, from
``runs.start(...)`` or ``runs.handle(run_id)``), the same locally and remotely; a
run's dossier (:class:`Dossier`) is gathered through them and written by the caller.

Faces (the CLI, the REST API, the dashboard and protocols to come) translate to
these calls and back, and hold no rule of their own. The arguments that travel
together are the dataclasses of :mod:`.queries`.
"""

from coord.operations._async.handles import AsyncRunHandle
from coord.operations._async.protocols import (
    AsyncAgents,
    AsyncDeadLetters,
    AsyncMail,
    AsyncQueues,
    AsyncRuns,
    AsyncSurface,
    AsyncTasks,
)
from coord.operations._sync.handles import RunHandle
from coord.operations._sync.protocols import (
    Agents,
    DeadLetters,
    Mail,
    Queues,
    Runs,
    Surface,
    Tasks,
)
from coord.operations.dossier import Dossier
from coord.operations.queries import Draft, EnqueueOptions, InboxQuery, RunFilter, TaskFilter
from coord.operations.results import Enqueued, Me, Started, Subscription

__all__ = [
    "Agents",
    "AsyncAgents",
    "AsyncDeadLetters",
    "AsyncMail",
    "AsyncQueues",
    "AsyncRunHandle",
    "AsyncRuns",
    "AsyncSurface",
    "AsyncTasks",
    "DeadLetters",
    "Dossier",
    "Draft",
    "EnqueueOptions",
    "Enqueued",
    "InboxQuery",
    "Mail",
    "Me",
    "Queues",
    "RunFilter",
    "RunHandle",
    "Runs",
    "Started",
    "Subscription",
    "Surface",
    "TaskFilter",
    "Tasks",
]
