"""Workflows and runs: the part of :class:`coord.AsyncClient` not yet on the
operations surface (it moves there next, as ``client.runs``)."""

from __future__ import annotations

from typing import Any

from coord.client import work_calls as work
from coord.client.transport import SyncTransport
from coord.domain.run_views import RunCost, RunInfo, RunPlan, WorkflowInfo
from coord.domain.views import EventInfo
from coord.operations.results import Started


class SyncWork:
    """The work methods of :class:`coord.AsyncClient` (see there)."""

    _t: SyncTransport

    # -- workflows and runs ----------------------------------------------------------
    def workflows(self) -> list[WorkflowInfo]:
        """The workflows registered on the server."""
        return self._t.collect(work.workflows(), None)

    def plan(self, workflow: str, input: Any = None) -> RunPlan:
        """What a run of a registered workflow would do; runs nothing."""
        return self._t.do(work.plan(workflow, input))

    def start_run(self, workflow: str, input: Any = None, *, key: str | None = None) -> Started:
        """Start a run of a registered workflow; with ``key`` at most one such run."""
        return self._t.do(work.start_run(workflow, input, key))

    def runs(
        self, *, state: str | None = None, workflow: str | None = None, limit: int | None = 50
    ) -> list[RunInfo]:
        """Runs, newest first, at most ``limit`` (None: all)."""
        return self._t.collect(work.runs_pager(state, workflow), limit)

    def run(self, run_id: str) -> RunInfo:
        """One run with its phases."""
        return self._t.do(work.run(run_id))

    def run_events(self, run_id: str, after: int = 0) -> list[EventInfo]:
        """A run's history (after event id ``after``), oldest first."""
        return self._t.collect(work.run_events(run_id, after), None)

    def run_cost(self, run_id: str) -> RunCost:
        """A run's usage per phase against each budget."""
        return self._t.do(work.run_cost(run_id))

    def pause_run(self, run_id: str) -> RunInfo:
        """Start nothing new in the run until it is resumed."""
        return self._t.do(work.signal(run_id, "pause"))

    def resume_run(self, run_id: str) -> RunInfo:
        """Continue a paused run."""
        return self._t.do(work.signal(run_id, "resume"))

    def cancel_run(self, run_id: str) -> RunInfo:
        """Cancel a run (its succeeded phases are compensated)."""
        return self._t.do(work.signal(run_id, "cancel"))

    def retry_run(self, run_id: str, from_phase: str | None = None) -> RunInfo:
        """Run a failed or cancelled run again from its failed phase (or ``from_phase``)."""
        return self._t.do(work.signal(run_id, "retry", {"from_phase": from_phase}))

    def approve(self, run_id: str, phase: str) -> RunInfo:
        """Approve a phase awaiting a person, as the calling human."""
        return self._t.do(work.gate(run_id, phase, "approve"))

    def reject(self, run_id: str, phase: str, reason: str) -> RunInfo:
        """Reject a phase awaiting approval (the run fails and compensates)."""
        return self._t.do(work.gate(run_id, phase, "reject", {"reason": reason}))

    def waive(self, run_id: str, phase: str, *, expires: str | float, control: str) -> RunInfo:
        """Waive a phase's gate, owned by the caller, until it expires."""
        body = {"expires": expires, "control": control}
        return self._t.do(work.gate(run_id, phase, "waive", body))

    def set_budget(
        self,
        run_id: str,
        *,
        phase: str | None = None,
        tokens: int | None = None,
        usd: float | None = None,
        tool_seconds: float | None = None,
    ) -> RunInfo:
        """Set limits on a run, or on one of its phases."""
        return self._t.do(work.set_budget(run_id, phase, tokens, usd, tool_seconds))
