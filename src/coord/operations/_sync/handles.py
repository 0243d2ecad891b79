"""Handles on long-lived things: a run's operations hang off its handle
(``handle.approve(...)``, ``handle.cancel()``, ``handle.wait()``), the same for a run
started on the database and one started over HTTP, as Temporal's ``WorkflowHandle``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coord.domain.run_views import ArtifactInfo, RunCost, RunInfo
from coord.domain.views import EventInfo

if TYPE_CHECKING:
    from coord.operations._sync.protocols import Runs
    from coord.operations.dossier import Dossier


class RunHandle:
    """One run: its ``id``, whether the call that gave the handle started it
    (``created``: False when its key found an existing run), and its operations,
    through the runs noun it came from (``app.runs``, ``client.runs``, ...)."""

    __slots__ = ("_runs", "created", "id")

    def __init__(self, runs: Runs, run_id: str, created: bool = True) -> None:
        self._runs = runs
        self.id = run_id
        self.created = created

    def __repr__(self) -> str:
        return f"RunHandle({self.id!r}, created={self.created})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunHandle):
            return NotImplemented
        return self.id == other.id and self.created == other.created

    def __hash__(self) -> int:
        return hash(self.id)

    def info(self) -> RunInfo:
        """The run as stored now, with its phases."""
        return self._runs.get(self.id)

    def wait(self, timeout: float | None = None) -> RunInfo:
        """Wait until the run ended or needs a person; ``WaitTimeout`` after ``timeout``."""
        return self._runs.wait(self.id, timeout)

    def events(self, after: int = 0) -> list[EventInfo]:
        """The run's history, oldest first."""
        return self._runs.events(self.id, after)

    def cost(self) -> RunCost:
        """Usage per phase against each budget."""
        return self._runs.cost(self.id)

    def artifacts(self) -> list[ArtifactInfo]:
        """The artifacts the run's tasks stored, oldest first, with their provenance."""
        return self._runs.artifacts(self.id)

    def artifact(self, digest: str) -> bytes:
        """The bytes of one of the run's artifacts, by digest."""
        return self._runs.artifact(self.id, digest)

    def dossier(self) -> Dossier:
        """The run's dossier as files: ``(await handle.dossier()).write("DIR")``."""
        return self._runs.dossier(self.id)

    def pause(self) -> RunInfo:
        """Start nothing new in the run until it is resumed."""
        return self._runs.pause(self.id)

    def resume(self) -> RunInfo:
        """Continue the paused run."""
        return self._runs.resume(self.id)

    def cancel(self) -> RunInfo:
        """Cancel the run (its succeeded phases are compensated)."""
        return self._runs.cancel(self.id)

    def retry(self, from_phase: str | None = None) -> RunInfo:
        """Run it again from its failed phase (or ``from_phase``)."""
        return self._runs.retry(self.id, from_phase=from_phase)

    def approve(self, phase: str, *, by: str | None = None) -> RunInfo:
        """Approve a phase awaiting a person (``by``: see ``runs.approve``)."""
        return self._runs.approve(self.id, phase, by=by)

    def reject(self, phase: str, reason: str, *, by: str | None = None) -> RunInfo:
        """Reject a phase awaiting approval: the run fails and compensates."""
        return self._runs.reject(self.id, phase, reason, by=by)

    def waive(
        self, phase: str, *, expires: str | float, control: str, owner: str | None = None
    ) -> RunInfo:
        """Waive a phase's gate until it expires."""
        return self._runs.waive(self.id, phase, expires=expires, control=control, owner=owner)

    def set_budget(
        self,
        *,
        phase: str | None = None,
        tokens: int | None = None,
        usd: float | None = None,
        tool_seconds: float | None = None,
    ) -> RunInfo:
        """Set limits on the run or one of its phases."""
        return self._runs.set_budget(
            self.id, phase=phase, tokens=tokens, usd=usd, tool_seconds=tool_seconds
        )
