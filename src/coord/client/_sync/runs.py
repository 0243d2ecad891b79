"""Workflows and runs over HTTP: the runs noun of :mod:`coord.operations`, with the
same arguments, answers and errors as on the database. The server decides who may
do what; waiting for a run polls it (see :meth:`AsyncRemoteRuns.wait`)."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from coord.client import work_calls as work
from coord.client.transport import SyncTransport
from coord.domain.pages import Page
from coord.domain.run_views import ArtifactInfo, RunCost, RunInfo, RunPlan, WorkflowInfo, settled
from coord.domain.views import EventInfo
from coord.errors import Forbidden, WaitTimeout
from coord.operations._sync.dossier import gather
from coord.operations._sync.handles import RunHandle
from coord.operations._sync.listing import collect, page_size
from coord.operations.dossier import Dossier
from coord.operations.queries import RunFilter
from coord.operations.waiting import nap_blocking

if TYPE_CHECKING:
    from coord.client._sync.surface import Caller

# Polling a waited-for run: quick at first (most waits are short), then at most
# once a second, so that a long wait costs the server little.
FIRST_POLL = 0.05
LAST_POLL = 1.0


class RemoteRuns:
    """Workflows and runs over HTTP, as the key's agent."""

    def __init__(self, transport: SyncTransport, caller: Caller) -> None:
        self._t, self._caller = transport, caller

    def workflows(self) -> list[WorkflowInfo]:
        """The registered workflows."""
        return self._t.collect(work.workflows(), None)

    def workflow(self, name: str) -> WorkflowInfo:
        """One registered workflow with its definition."""
        return self._t.do(work.workflow(name))

    def plan(self, workflow: str, input: Any = None) -> RunPlan:
        """What a run of a registered workflow would do."""
        return self._t.do(work.plan(workflow, input))

    def start(self, workflow: str, input: Any = None, *, key: str | None = None) -> RunHandle:
        """Start a run of a registered workflow."""
        started = self._t.do(work.start_run(workflow, input, key))
        return RunHandle(self, started.id, started.created)

    def handle(self, run_id: str) -> RunHandle:
        """A handle on an existing run."""
        return RunHandle(self, run_id, created=False)

    def get(self, run_id: str) -> RunInfo:
        """One run with its phases."""
        return self._t.do(work.run(run_id))

    def page(self, query: RunFilter | None = None, cursor: str | None = None) -> Page[RunInfo]:
        """One page of the runs, newest first."""
        q = query or RunFilter()
        return self._t.do(work.runs_page(q, page_size(q.limit), cursor))

    def find(self, query: RunFilter | None = None) -> list[RunInfo]:
        """Runs, newest first."""
        q = query or RunFilter()
        return collect(
            lambda size, cursor: self.page(dataclasses.replace(q, limit=size), cursor), q.limit
        )

    def events(self, run_id: str, after: int = 0) -> list[EventInfo]:
        """A run's history, oldest first."""
        return self._t.collect(work.run_events(run_id, after), None)

    def cost(self, run_id: str) -> RunCost:
        """Usage per phase against each budget."""
        return self._t.do(work.run_cost(run_id))

    def artifacts(self, run_id: str) -> list[ArtifactInfo]:
        """The run's artifacts with their provenance, oldest first."""
        return self._t.collect(work.run_artifacts(run_id), None)

    def artifact(self, run_id: str, digest: str) -> bytes:
        """The bytes of one of the run's artifacts, by digest."""
        return self._t.do(work.artifact(run_id, digest))

    def dossier(self, run_id: str) -> Dossier:
        """The run's dossier as files, gathered by the reads above: the server needs
        no dossier operation of its own, and the files are those a local surface
        gives."""
        return gather(self, run_id)

    def pause(self, run_id: str) -> RunInfo:
        """Start nothing new in the run until it is resumed."""
        return self._t.do(work.signal(run_id, "pause"))

    def resume(self, run_id: str) -> RunInfo:
        """Continue a paused run."""
        return self._t.do(work.signal(run_id, "resume"))

    def cancel(self, run_id: str) -> RunInfo:
        """Cancel a run."""
        return self._t.do(work.signal(run_id, "cancel"))

    def retry(self, run_id: str, *, from_phase: str | None = None) -> RunInfo:
        """Run a failed or cancelled run again."""
        return self._t.do(work.signal(run_id, "retry", {"from_phase": from_phase}))

    def approve(self, run_id: str, phase: str, *, by: str | None = None) -> RunInfo:
        """Approve a phase awaiting a person, as the calling human."""
        self._as_caller(by, "by")
        return self._t.do(work.gate(run_id, phase, "approve"))

    def reject(self, run_id: str, phase: str, reason: str, *, by: str | None = None) -> RunInfo:
        """Reject a phase awaiting approval, as the calling human."""
        self._as_caller(by, "by")
        return self._t.do(work.gate(run_id, phase, "reject", {"reason": reason}))

    def waive(
        self,
        run_id: str,
        phase: str,
        *,
        expires: str | float,
        control: str,
        owner: str | None = None,
    ) -> RunInfo:
        """Waive a phase's gate, owned by the caller, until it expires."""
        self._as_caller(owner, "owner")
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
        """Set limits on the run or one of its phases."""
        return self._t.do(work.set_budget(run_id, phase, tokens, usd, tool_seconds))

    def wait(self, run_id: str, timeout: float | None = None) -> RunInfo:
        """Wait until the run ended or needs a person, asking the server for it now
        and then. Polling, not the event stream: a run's state is what decides, one
        GET reads it whole, and a dropped connection or a missed event cannot make
        the wait hang; the delay grows to a second, so a long wait costs little."""
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        delay = FIRST_POLL
        while True:
            run = self.get(run_id)
            now = time.monotonic()
            if settled(run):
                return run
            if deadline is not None and now >= deadline:
                raise WaitTimeout(
                    f"run {run.id} is still {run.state} after {now - started:.1f}s",
                    run_id=run.id,
                )
            left = LAST_POLL if deadline is None else max(deadline - now, 0.0)
            nap_blocking(min(delay, left))
            delay = min(delay * 1.5, LAST_POLL)

    def _as_caller(self, given: str | None, field: str) -> None:
        """Over HTTP a person acts as itself: naming another is refused, never honoured."""
        if given is None:
            return
        me = self._caller.agent(None)
        if given != me:
            raise Forbidden(
                f"{field}: you act as {me!r}, the caller, never as {given!r}",
                field=field,
            )
