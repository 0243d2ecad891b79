"""Workflows and runs over the database, as a principal. The access rules of runs are
decided here, once, for every face: a workflow may require an authority domain and
its runs inherit it; a run the caller may not see answers as an unknown id does.
Each operation checks and acts in one blocking call, run off the event loop."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from coord.domain.pages import Page
from coord.domain.run_views import ArtifactInfo, RunCost, RunInfo, RunPlan, WorkflowInfo, settled
from coord.domain.views import EventInfo
from coord.domain.workflows import WorkflowSpec
from coord.errors import Forbidden, InvalidInput, WaitTimeout
from coord.operations._sync.dossier import gather
from coord.operations._sync.handles import RunHandle
from coord.operations._sync.listing import collect, page_size
from coord.operations.bridge import inline
from coord.operations.cursors import decode_id, page
from coord.operations.dossier import Dossier
from coord.operations.local_parts import LocalParts
from coord.operations.queries import RunFilter
from coord.services import access
from coord.services import runs as service


class LocalRuns:
    """Workflows and runs over the database."""

    def __init__(self, parts: LocalParts) -> None:
        self._p = parts

    # -- workflows --------------------------------------------------------------------
    def workflows(self) -> list[WorkflowInfo]:
        """The registered workflows."""
        access.require(self._p.principal, "read_runs")
        return inline(service.list_workflows, self._p.store())

    def workflow(self, name: str) -> WorkflowInfo:
        """One registered workflow with its definition."""
        access.require(self._p.principal, "read_runs", domain=self._domain(name))
        return inline(self._workflow, name)

    def _workflow(self, name: str) -> WorkflowInfo:
        store = self._p.store()
        self._p.declared(store, name)
        return service.get_workflow(store, name)

    def plan(self, workflow: str, input: Any = None) -> RunPlan:
        """What a run of a registered workflow would do."""
        access.require(self._p.principal, "read_runs", domain=self._domain(workflow))
        spec = inline(self._spec, workflow)
        return service.plan(spec, input)

    def _spec(self, workflow: str) -> WorkflowSpec:
        store = self._p.store()
        self._p.declared(store, workflow)  # an App's builder, as declared now
        return service.registered_workflow(store, workflow)

    # -- runs -------------------------------------------------------------------------
    def start(self, workflow: str, input: Any = None, *, key: str | None = None) -> RunHandle:
        """Start a run of a registered workflow."""
        access.require(self._p.principal, "start_run", domain=self._domain(workflow))
        run_id, created = inline(self._start, workflow, input, key)
        return RunHandle(self, run_id, created)

    def _start(self, workflow: str, run_input: Any, key: str | None) -> tuple[str, bool]:
        spec = self._spec(workflow)
        return service.start_run(self._p.store(), spec, run_input, key=key, actor=self._p.actor)

    def handle(self, run_id: str) -> RunHandle:
        """A handle on an existing run."""
        return RunHandle(self, run_id, created=False)

    def get(self, run_id: str) -> RunInfo:
        """One run with its phases."""
        return inline(self._readable, run_id)

    def page(self, query: RunFilter | None = None, cursor: str | None = None) -> Page[RunInfo]:
        """One page of the runs, newest first, those the caller's domains cover (a
        page may hold fewer than ``limit`` runs and still say there is more)."""
        principal = self._p.principal
        access.require(principal, "read_runs")
        q = query or RunFilter()
        size = page_size(q.limit)
        found = inline(
            service.list_runs,
            self._p.store(),
            state=q.state,
            workflow=q.workflow,
            limit=size + 1,
            before_id=decode_id(cursor),
        )
        result = page(found, size, _id)
        result.data = [r for r in result.data if principal.in_domain(self._domain(r.workflow))]
        return result

    def find(self, query: RunFilter | None = None) -> list[RunInfo]:
        """Runs, newest first."""
        q = query or RunFilter()
        return collect(
            lambda size, cursor: self.page(dataclasses.replace(q, limit=size), cursor), q.limit
        )

    def events(self, run_id: str, after: int = 0) -> list[EventInfo]:
        """A run's history, oldest first."""
        return inline(self._events, run_id, after)

    def _events(self, run_id: str, after: int) -> list[EventInfo]:
        self._readable(run_id)
        return service.run_events(self._p.store(), run_id, after)

    def cost(self, run_id: str) -> RunCost:
        """Usage per phase against each budget."""
        return inline(self._cost, run_id)

    def _cost(self, run_id: str) -> RunCost:
        self._readable(run_id)
        return service.cost(self._p.store(), run_id)

    def artifacts(self, run_id: str) -> list[ArtifactInfo]:
        """The run's artifacts with their provenance, oldest first."""
        return inline(self._artifacts, run_id)

    def _artifacts(self, run_id: str) -> list[ArtifactInfo]:
        run = self._readable(run_id)
        return service.run_artifacts(self._p.store(), run.id)

    def artifact(self, run_id: str, digest: str) -> bytes:
        """The bytes of one of the run's artifacts, by digest."""
        return inline(self._artifact, run_id, digest)

    def _artifact(self, run_id: str, digest: str) -> bytes:
        run = self._readable(run_id)
        return service.artifact_content(self._p.store(), run.id, digest)

    def dossier(self, run_id: str) -> Dossier:
        """The run's dossier as files (gathered through this surface's reads)."""
        return gather(self, run_id)

    def pause(self, run_id: str) -> RunInfo:
        """Start nothing new in the run until it is resumed."""
        return inline(self._control, service.pause, run_id)

    def resume(self, run_id: str) -> RunInfo:
        """Continue a paused run."""
        return inline(self._control, service.resume, run_id)

    def cancel(self, run_id: str) -> RunInfo:
        """Cancel a run."""
        return inline(self._control, service.cancel, run_id)

    def retry(self, run_id: str, *, from_phase: str | None = None) -> RunInfo:
        """Run a failed or cancelled run again."""
        return inline(self._retry, run_id, from_phase)

    def _retry(self, run_id: str, from_phase: str | None) -> RunInfo:
        self._controllable(run_id)
        return service.retry(self._p.store(), run_id, from_phase, actor=self._p.actor)

    def approve(self, run_id: str, phase: str, *, by: str | None = None) -> RunInfo:
        """Approve a phase awaiting a person."""
        return inline(self._approve, run_id, phase, by)

    def _approve(self, run_id: str, phase: str, by: str | None) -> RunInfo:
        person = self._approver(run_id, by)
        return service.approve(self._p.store(), run_id, phase, person)

    def reject(self, run_id: str, phase: str, reason: str, *, by: str | None = None) -> RunInfo:
        """Reject a phase awaiting approval."""
        return inline(self._reject, run_id, phase, reason, by)

    def _reject(self, run_id: str, phase: str, reason: str, by: str | None) -> RunInfo:
        person = self._approver(run_id, by)
        return service.reject(self._p.store(), run_id, phase, person, reason)

    def waive(
        self,
        run_id: str,
        phase: str,
        *,
        expires: str | float,
        control: str,
        owner: str | None = None,
    ) -> RunInfo:
        """Waive a phase's gate until it expires."""
        return inline(self._waive, run_id, phase, expires, control, owner)

    def _waive(
        self, run_id: str, phase: str, expires: str | float, control: str, owner: str | None
    ) -> RunInfo:
        run = self._readable(run_id)
        principal = self._p.principal
        access.require(principal, "waive_gate", domain=self._domain(run.workflow))
        who = _as_caller(principal, owner, "owner")
        return service.waive(
            self._p.store(), run.id, phase, owner=who, expires=expires, control=control
        )

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
        limits = {
            k: v
            for k, v in (("tokens", tokens), ("usd", usd), ("tool_seconds", tool_seconds))
            if v is not None
        }
        return inline(self._set_budget, run_id, phase, limits)

    def _set_budget(self, run_id: str, phase: str | None, limits: dict[str, float]) -> RunInfo:
        run = self._readable(run_id)
        access.require(self._p.principal, "set_budget", domain=self._domain(run.workflow))
        if not limits:
            raise InvalidInput("give at least one of tokens, usd and tool_seconds", field="tokens")
        target = run.id if phase is None else f"{run.id}:{phase}"
        return service.set_budget(self._p.store(), target, limits, actor=self._p.actor)

    def wait(self, run_id: str, timeout: float | None = None) -> RunInfo:
        """Wait until the run ended or needs a person."""
        return inline(self._wait, run_id, timeout)

    def _wait(self, run_id: str, timeout: float | None) -> RunInfo:
        self._readable(run_id)
        started = time.monotonic()
        run = service.wait_run(self._p.store(), run_id, timeout)
        if not settled(run):
            waited = time.monotonic() - started
            raise WaitTimeout(
                f"run {run.id} is still {run.state} after {waited:.1f}s", run_id=run.id
            )
        return run

    # -- who may do what --------------------------------------------------------------
    def _domain(self, workflow: str) -> str | None:
        return self._p.roles.required_domain("workflow", workflow)

    def _readable(self, run_id: str) -> RunInfo:
        return service.readable_run(self._p.store(), run_id, self._p.principal, self._p.roles)

    def _control(self, change: Any, run_id: str) -> RunInfo:
        self._controllable(run_id)
        found: RunInfo = change(self._p.store(), run_id, actor=self._p.actor)
        return found

    def _controllable(self, run_id: str) -> RunInfo:
        """``control_runs`` controls any run; ``start_run`` only the caller's own."""
        run = self._readable(run_id)
        principal = self._p.principal
        domain = self._domain(run.workflow)
        if principal.can("control_runs"):
            access.require(principal, "control_runs", domain=domain)
            return run
        access.require(principal, "start_run", domain=domain)
        if service.started_by(self._p.store(), run.id) != principal.agent:
            raise Forbidden(
                f"run {run.id} was started by another agent: controlling it needs the "
                "control_runs permission",
                permission="control_runs",
            )
        return run

    def _approver(self, run_id: str, by: str | None) -> str:
        """Who approves: the caller, a person who did not start the run (code on the
        database names the person, who must be a registered human)."""
        run = self._readable(run_id)
        principal = self._p.principal
        access.require(principal, "approve_gate", domain=self._domain(run.workflow))
        person = _as_caller(principal, by, "by")
        if principal.local:
            return person
        if not principal.human:
            raise Forbidden(
                f"agent {person!r} is not a human: only people approve gates",
                permission="approve_gate",
            )
        if service.started_by(self._p.store(), run.id) == person:
            raise Forbidden(
                f"{person!r} started run {run.id}: nobody approves their own gate",
                permission="approve_gate",
            )
        return person


def _as_caller(principal: access.Principal, given: str | None, field: str) -> str:
    """The caller itself; only the local principal names someone (and must)."""
    if principal.local or given is None or given == principal.agent:
        return access.acting_agent(principal, given, field)
    raise Forbidden(
        f"{field}: you act as {principal.agent!r}, the caller, never as {given!r}",
        field=field,
    )


def _id(run: RunInfo) -> str:
    return run.id
