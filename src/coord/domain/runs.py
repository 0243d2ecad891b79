"""Workflow runs: states, the records the run engine reads (a snapshot of one run,
taken under its lock) and the changes it asks the store to write.

The engine never writes piecemeal: it reads a :class:`RunSnapshot`, decides, and
returns one :class:`RunChanges` that the store applies in the same transaction as
whatever triggered it (a task's outcome, a signal, a new run).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from coord.domain.tasks import NewTask, TaskPolicy, TaskState, Usage
from coord.domain.workflows import Budget

_ARTIFACT_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def artifact_digest(content: bytes) -> str:
    """The digest an artifact is stored and addressed by: ``sha256:`` and the hex
    SHA-256 of its bytes."""
    return "sha256:" + hashlib.sha256(content).hexdigest()


def is_artifact_digest(value: object) -> bool:
    """True if ``value`` has the form of :func:`artifact_digest`'s answers."""
    return isinstance(value, str) and _ARTIFACT_DIGEST.fullmatch(value) is not None


class RunState(StrEnum):
    """Where a run is."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPENSATING = "compensating"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True once the run has ended."""
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED)


class PhaseState(StrEnum):
    """Where a phase of a run is."""

    WAITING = "waiting"  # for the phases it runs after
    RUNNING = "running"  # its task (or fan-out items) run
    FIXING = "fixing"  # the gate failed; the fix task runs
    AWAITING_APPROVAL = "awaiting_approval"  # automatic checks passed; a human decides
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the run ended before this phase did
    COMPENSATED = "compensated"  # succeeded, then undone by its compensation

    @property
    def is_active(self) -> bool:
        """True while the phase has work in flight or waits for a decision."""
        return self in (PhaseState.RUNNING, PhaseState.FIXING, PhaseState.AWAITING_APPROVAL)


class TaskRole(StrEnum):
    """What a task does for its run."""

    PHASE = "phase"  # the phase's own task
    ITEM = "item"  # one fan-out item of the phase's task
    FIX = "fix"  # the gate's fix task
    COMPENSATE = "compensate"  # the saga step undoing a succeeded phase
    TIMER = "timer"  # wakes the engine at a phase's timebox deadline


TIMER_TASK = "coord.timer"  # a no-op task: its completion makes the engine look again
PAUSE_BUDGET = "budget_exceeded"
PAUSE_REQUESTED = "requested"


@dataclass(frozen=True, slots=True)
class RunStep:
    """Where a task sits in its run (kept with the task, small)."""

    role: TaskRole
    attempt: int  # the phase attempt it belongs to
    loop: int = 0  # gate loops before it
    item: int | None = None  # fan-out item index

    def to_dict(self) -> dict[str, Any]:
        """As JSON data."""
        out: dict[str, Any] = {"role": self.role.value, "attempt": self.attempt}
        if self.loop:
            out["loop"] = self.loop
        if self.item is not None:
            out["item"] = self.item
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunStep:
        """Rebuild from :meth:`to_dict`."""
        return cls(
            role=TaskRole(data["role"]),
            attempt=int(data["attempt"]),
            loop=int(data.get("loop", 0)),
            item=data.get("item"),
        )


@dataclass(slots=True)
class RunRecord:
    """A run row."""

    id: str
    workflow: str
    definition: dict[str, Any]
    input: Any
    state: RunState
    reason: str | None
    detail: Any
    budget: Budget  # the run's limits (the definition's, as raised since)
    key: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    actor: str | None = None


@dataclass(slots=True)
class PhaseRecord:
    """A phase row of a run."""

    name: str
    state: PhaseState
    attempt: int = 0  # times the phase's task started
    loops: int = 0  # gate fix loops used
    started_at: float | None = None
    finished_at: float | None = None
    deadline_at: float | None = None
    result: Any = None
    gate: dict[str, Any] | None = None  # the last evaluation
    error: dict[str, Any] | None = None
    budget: Budget = field(default_factory=Budget)  # the phase's limits
    items: list[Any] | None = None  # fan-out items of the current attempt
    waiver: dict[str, Any] | None = None
    approval: dict[str, Any] | None = None
    finished_seq: int | None = None  # order of success, for compensation


@dataclass(slots=True)
class RunTaskRecord:
    """A task of a run, without its payload and result."""

    id: str
    phase: str
    name: str
    state: TaskState
    step: RunStep
    usage: Usage
    error: dict[str, Any] | None = None


@dataclass(slots=True)
class RunSnapshot:
    """One run as the engine sees it, read under the run's lock."""

    run: RunRecord
    phases: dict[str, PhaseRecord]
    tasks: list[RunTaskRecord]
    artifacts: dict[tuple[str, int], set[str]]  # (phase, attempt) -> artifact names
    policies: dict[str, TaskPolicy]
    now: float  # the database clock, epoch seconds

    def phase_tasks(self, phase: str) -> list[RunTaskRecord]:
        """Every task of ``phase``, oldest first."""
        return [t for t in self.tasks if t.phase == phase]

    def usage(self, phase: str | None = None) -> Usage:
        """What the run (or one phase) charged so far, over all its tasks."""
        total = Usage()
        for task in self.tasks:
            if phase is None or task.phase == phase:
                total.add(task.usage)
        return total

    def usage_by_phase(self) -> dict[str | None, Usage]:
        """What each phase charged so far, and the whole run under None, in one pass."""
        total = Usage()
        usage: dict[str | None, Usage] = {None: total}
        for task in self.tasks:
            total.add(task.usage)
            usage.setdefault(task.phase, Usage()).add(task.usage)
        return usage


@dataclass(frozen=True, slots=True)
class RunEvent:
    """An event to record with the run's changes."""

    topic: str
    phase: str | None = None
    data: Mapping[str, Any] | None = None
    task_id: str | None = None


@dataclass(slots=True)
class RunChanges:
    """Everything one engine decision writes, applied in one transaction: the run
    and phase rows it changed (written whole), tasks to enqueue and to cancel, and
    events."""

    run: RunRecord | None = None
    phases: dict[str, PhaseRecord] = field(default_factory=dict)
    tasks: list[NewTask] = field(default_factory=list)
    cancel_tasks: list[str] = field(default_factory=list)
    events: list[RunEvent] = field(default_factory=list)
    actor: str | None = None  # who the events name (else the store's caller)

    def event(
        self,
        topic: str,
        phase: str | None = None,
        data: Mapping[str, Any] | None = None,
        task_id: str | None = None,
    ) -> None:
        """Record an event."""
        self.events.append(RunEvent(topic, phase, data, task_id))

    @property
    def empty(self) -> bool:
        """True when nothing is to be written."""
        return not (
            self.run is not None or self.phases or self.tasks or self.cancel_tasks or self.events
        )


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run to create."""

    id: str
    workflow: str
    definition: dict[str, Any]
    input: Any
    budget: Budget
    key: str | None
    actor: str | None
    phases: tuple[str, ...]
    phase_budgets: Mapping[str, Budget]


@dataclass(frozen=True, slots=True)
class EagerClaim:
    """A worker's offer to run at once some of the tasks a decision enqueues (the
    next phase of a run, typically), saving a claim: up to ``limit`` tasks of
    ``queues`` without concurrency keys or rate limits, due now, are stored already
    leased to ``owner``."""

    owner: str
    queues: tuple[str, ...]
    limit: int
    lease_seconds: float


def eager_picks(tasks: Sequence[NewTask], eager: EagerClaim | None) -> list[str]:
    """The ids of the tasks an :class:`EagerClaim` takes, in order."""
    if eager is None or eager.limit <= 0:
        return []
    picks = [
        t.id
        for t in tasks
        if t.queue in eager.queues
        and t.concurrency_key is None
        and t.rate_key is None
        and t.run_at is None
        and t.delay <= 0
    ]
    return picks[: eager.limit]
