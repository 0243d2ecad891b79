"""The storage port: everything the engine and the services ask of a database.

Implementations (SQLite, PostgreSQL) keep every state change and its event in one
transaction and enforce fencing inside the UPDATE itself. Calls are synchronous and
thread-safe; the asyncio worker runs them on a small I/O thread pool and batches them,
so one call moves many tasks. Write methods that take an ``owner`` are fenced: they
only touch rows whose ``(id, attempt, owner)`` still match a live lease, and return
which ids were accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from coord.domain.steps import StepReset
from coord.domain.tasks import (
    ClaimedTask,
    EnqueueResult,
    NewTask,
    Outcome,
    Renewal,
    TaskPolicy,
    TaskState,
)
from coord.domain.views import DeadLetterGroup, EventInfo, QueueStats, TaskInfo
from coord.ports.events import EventFeed
from coord.ports.ledger import LedgerStore
from coord.ports.mailbox import MailboxStore
from coord.ports.runs import RunStore
from coord.ports.security import SecurityStore


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """Which tasks to list, newest first."""

    state: TaskState | None = None
    queue: str | None = None
    name: str | None = None
    limit: int = 50
    before_id: str | None = None  # keyset paging: only tasks older than this one


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """The schema version in the database against the one this code needs."""

    current: int
    target: int

    @property
    def up_to_date(self) -> bool:
        """True when the database is exactly at the version this code expects."""
        return self.current == self.target


class Store(MailboxStore, RunStore, SecurityStore, LedgerStore, EventFeed, Protocol):
    """A coord database: the task queue, mailboxes (:class:`MailboxStore`) and
    workflow runs (:class:`RunStore`)."""

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgres"``."""
        ...

    @property
    def io_threads(self) -> int:
        """How many threads may usefully call the store at once (1 for SQLite)."""
        ...

    def close(self) -> None:
        """Release connections."""

    # -- schema ---------------------------------------------------------------------
    def schema_status(self) -> SchemaStatus:
        """Return the schema version found and the one this code needs."""
        ...

    def upgrade(self, *, via_migrations: bool = False) -> list[int]:
        """Apply missing migrations (idempotent); return the versions applied.

        A new database gets ``schema.sql`` at once unless ``via_migrations`` (which
        replays every migration: how the schema tests prove both paths agree)."""
        ...

    # -- producing ------------------------------------------------------------------
    def enqueue(self, tasks: Sequence[NewTask], actor: str | None) -> list[EnqueueResult]:
        """Insert tasks and their ``task.enqueued`` events atomically.

        A task whose ``(name, key)`` exists already is not inserted: its existing id is
        returned when the payload is the same; a different payload raises
        ``IdempotencyConflict`` and nothing of the batch is written.
        """
        ...

    def register_policies(self, policies: Sequence[TaskPolicy]) -> None:
        """Record task policies (and create their rate buckets) for enqueues by name."""

    def get_policy(self, name: str) -> TaskPolicy | None:
        """Return the registered policy of a task name, if any."""
        ...

    def registered_tasks(self, names: Sequence[str]) -> set[str]:
        """Which of ``names`` have a registered policy (one query)."""
        ...

    # -- running --------------------------------------------------------------------
    def claim(
        self, owner: str, queues: Sequence[str], limit: int, lease_seconds: float
    ) -> list[ClaimedTask]:
        """Lease up to ``limit`` due tasks (priority, run_at, id order) under limits."""
        ...

    def seconds_until_due(self, queues: Sequence[str]) -> float | None:
        """Seconds until the next waiting task of ``queues`` is due (0 if one is due)."""
        ...

    def renew(self, owner: str, renewals: Sequence[Renewal], lease_seconds: float) -> set[str]:
        """Extend leases, record heartbeats and usage; return the ids still held."""
        ...

    def complete(self, owner: str, outcomes: Sequence[Outcome]) -> set[str]:
        """Record attempt outcomes with their events; return the ids accepted."""
        ...

    def save_checkpoint(self, owner: str, task_id: str, attempt: int, data_json: str) -> bool:
        """Persist a continuation for a later attempt; False if the lease is lost."""
        ...

    def load_steps(self, task_id: str) -> dict[str, str]:
        """Return the recorded step results (JSON text) of a task by step name."""
        ...

    def record_step(
        self, owner: str, task_id: str, attempt: int, name: str, result_json: str
    ) -> bool:
        """Record a step's result; False if the lease is lost."""
        ...

    def recover_expired(self) -> int:
        """Send running tasks whose lease expired back to pending (or dead); count them."""
        ...

    # -- operating ------------------------------------------------------------------
    def get_task(self, task_id: str) -> TaskInfo | None:
        """Return one task."""
        ...

    def list_tasks(self, task_filter: TaskFilter) -> list[TaskInfo]:
        """Return tasks matching the filter, newest first."""
        ...

    def task_events(self, task_id: str) -> list[EventInfo]:
        """Return a task's events, oldest first."""
        ...

    def cancel(self, task_id: str, actor: str | None) -> bool:
        """Cancel a task that has not finished. True if this call cancelled it; False
        if there is no such task or it had finished (or was cancelled) already."""
        ...

    def queue_stats(self) -> list[QueueStats]:
        """Return per-queue counts."""
        ...

    def dead_letter_groups(self) -> list[DeadLetterGroup]:
        """Return dead tasks grouped by error."""
        ...

    def retry_tasks(
        self,
        task_ids: Sequence[str] | None,
        states: Sequence[TaskState],
        reset: StepReset | None,
        actor: str | None,
    ) -> list[str]:
        """Make the tasks (all when ``task_ids`` is None) that are in one of ``states``
        pending and due now, with a fresh set of attempts; return their ids.

        With ``reset``, in the same transaction, delete the step records it chooses
        and clear the checkpoint. Each task gets a ``task.replayed`` event by
        ``actor`` (its data names the steps reset, when a reset was asked)."""
        ...


class Notifier(Protocol):
    """Cross-process wake-ups: "tasks became due", "tasks finished", "messages were
    delivered"."""

    def start(
        self,
        on_due: Callable[[], None],
        on_done: Callable[[], None],
        on_message: Callable[[], None] | None = None,
    ) -> None:
        """Begin calling the callbacks (from any thread) when other processes write."""

    def stop(self) -> None:
        """Stop listening."""
