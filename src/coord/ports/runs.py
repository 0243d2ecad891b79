"""The storage port for workflow runs.

Every change to a run goes the same way: the store opens a transaction, locks the
run's row, gives the engine a :class:`RunTx` to read the run from, and writes the
:class:`~coord.domain.runs.RunChanges` the engine returns, in that same transaction
(with the task outcome that triggered it, when there is one). The lock serializes
decisions about one run across workers and machines; the engine's rules live above
this port, written once for both dialects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from coord.domain.run_views import ArtifactInfo, RunInfo, WorkflowInfo
from coord.domain.runs import EagerClaim, NewRun, RunChanges, RunSnapshot, RunState
from coord.domain.tasks import ClaimedTask, Outcome
from coord.domain.views import EventInfo


class RunTx(Protocol):
    """Reads of one locked run inside the transaction that will write its changes."""

    def snapshot(self) -> RunSnapshot:
        """The run, its phases, tasks (without results), artifacts and policies."""
        ...

    def task_results(self, task_ids: Sequence[str]) -> dict[str, Any]:
        """The results of these tasks of the run, by id."""
        ...


Decide = Callable[[RunTx], RunChanges]


@dataclass(frozen=True, slots=True)
class RunOutcomeStored:
    """What storing a run task's outcome did: whether it was accepted (the lease
    held), and the tasks claimed eagerly for the caller."""

    accepted: bool
    claimed: list[ClaimedTask] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunListing:
    """One read of the stored runs, newest first: the filter and the keyset position
    (the store's side of ``coord.operations.RunFilter``, which callers give)."""

    state: RunState | None = None
    workflow: str | None = None
    limit: int = 50
    before_id: str | None = None  # keyset paging: only runs older than this one


@dataclass(frozen=True, slots=True)
class NewArtifact:
    """Content stored by a task of a run, with its provenance."""

    run_id: str
    phase: str
    phase_attempt: int
    name: str
    digest: str  # "sha256:<hex>"
    content: bytes
    media_type: str
    task_id: str
    task_attempt: int
    producer: str
    tool: str | None
    inputs: tuple[str, ...]


class RunStore(Protocol):
    """Workflow definitions, runs, phases and artifacts."""

    def register_workflows(self, definitions: Sequence[dict[str, Any]]) -> None:
        """Record workflow definitions (by name, replacing older ones)."""

    def list_workflows(self) -> list[WorkflowInfo]:
        """Registered workflows, by name."""
        ...

    def get_workflow(self, name: str) -> WorkflowInfo | None:
        """A registered workflow, with its definition."""
        ...

    def create_run(self, run: NewRun, decide: Decide) -> tuple[str, bool]:
        """Insert a run and its phases, then apply ``decide`` in the same transaction.

        With a key that exists already: return the existing run's id and False when
        its workflow and input are the same; raise ``IdempotencyConflict`` otherwise.
        """
        ...

    def change_run(self, run_id: str, decide: Decide) -> bool:
        """Lock the run and apply ``decide``; False if there is no such run."""
        ...

    def complete_run_task(
        self,
        owner: str,
        outcome: Outcome,
        run_id: str,
        decide: Decide,
        eager: EagerClaim | None = None,
    ) -> RunOutcomeStored:
        """Record a run task's outcome (fenced) and apply ``decide`` in the same
        transaction; not accepted (and nothing written) if the lease was lost. With
        ``eager``, tasks the decision enqueues may come back claimed (see
        :class:`~coord.domain.runs.EagerClaim`)."""
        ...

    def runs_to_reconcile(self, older_than: float) -> list[str]:
        """Active runs with no live task and no phase awaiting a person, untouched for
        ``older_than`` seconds: a crash may have left them without their next step."""
        ...

    def get_run(self, run_id: str) -> RunInfo | None:
        """A run with its phases."""
        ...

    def list_runs(self, listing: RunListing) -> list[RunInfo]:
        """Runs (without phase details), newest first."""
        ...

    def run_events(self, run_id: str, after_id: int = 0) -> list[EventInfo]:
        """The run's events and its tasks' events, oldest first."""
        ...

    def record_artifact(self, owner: str, artifact: NewArtifact) -> bool:
        """Store an artifact (fenced by the task's lease); False if the lease is lost."""
        ...

    def run_artifacts(self, run_id: str) -> list[ArtifactInfo]:
        """The run's artifacts (metadata), oldest first."""
        ...

    def artifact_content(self, digest: str) -> bytes | None:
        """The bytes of an artifact by digest."""
        ...
