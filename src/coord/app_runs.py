"""The workflow half of :class:`coord.App`: declaring workflows (Python or YAML),
starting runs and steering them (signals, gates, budgets), and reading them back.
The operations on runs are ``app.runs`` (the surface's, as ``client.runs``); a
started run's handle is :class:`coord.RunHandle`."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coord.domain.run_views import ArtifactInfo, RunCost, RunInfo, RunPlan, settled
from coord.domain.runs import RunState
from coord.domain.views import EventInfo
from coord.domain.workflows import WorkflowSpec
from coord.errors import ConfigError, NotFound, WaitTimeout
from coord.operations._sync.handles import RunHandle
from coord.operations._sync.local_runs import LocalRuns
from coord.ports.store import Store
from coord.runtime.registry import Registry
from coord.services import dossier
from coord.services import runs as run_service
from coord.settings import Settings
from coord.workflows.definitions import Workflow, load_yaml_file
from coord.workflows.worker_hooks import timer_task

WorkflowRef = str | WorkflowSpec | Workflow


class RunFeatures:
    """Workflows and runs on an App (mixed into :class:`coord.App`)."""

    settings: Settings
    registry: Registry
    _lock: threading.RLock

    @property
    def store(self) -> Store:  # provided by App
        raise NotImplementedError

    @property
    def runs(self) -> LocalRuns:  # provided by App
        raise NotImplementedError

    def _store_if_open(self) -> Store | None:
        raise NotImplementedError

    def _init_runs(self) -> None:
        self._workflows: dict[str, Workflow | WorkflowSpec] = {}
        self._recorded: dict[str, dict[str, Any]] = {}  # definitions written to the store
        self.registry.add_task(timer_task())

    def _open_runs(self, store: Store) -> None:
        """Record this App's workflows in the database it opens."""
        self._recorded.clear()
        self._record(store, [self._spec(w) for w in self._workflows.values()])

    def _record(self, store: Store, specs: list[WorkflowSpec]) -> None:
        """Write definitions to the store, unless written already as they are."""
        new = [s for s in specs if self._recorded.get(s.name) != s.to_dict()]
        if new:
            run_service.register_workflows(store, new)
            self._recorded.update((s.name, s.to_dict()) for s in new)

    # -- declaring --------------------------------------------------------------------
    def workflow(
        self,
        name: str,
        *,
        budget: Mapping[str, float] | None = None,
        description: str | None = None,
    ) -> Workflow:
        """Declare a workflow and return its builder: add phases with
        ``.phase(name, task=..., after=[...], ...)`` (the keys of the YAML format).
        It is validated and recorded when the App opens its database (or when a run
        of it starts)."""
        builder = Workflow(name, budget=budget, description=description)
        self._add_workflow(name, builder)
        return builder

    def add_workflow(self, workflow: WorkflowSpec | Workflow | str | Path) -> WorkflowSpec:
        """Declare a workflow given as a spec, a builder, or a YAML file path."""
        if isinstance(workflow, str | Path):
            spec = run_service.checked(load_yaml_file, workflow)
        else:
            spec = self._spec(workflow)
        self._add_workflow(spec.name, spec)
        return spec

    def _add_workflow(self, name: str, workflow: Workflow | WorkflowSpec) -> None:
        with self._lock:
            if name in self._workflows:
                raise ConfigError(f"a workflow named {name!r} is declared already")
            self._workflows[name] = workflow
            store = self._store_if_open()
        if store is not None and isinstance(workflow, WorkflowSpec):
            self._record(store, [workflow])

    def _spec(self, workflow: Workflow | WorkflowSpec) -> WorkflowSpec:
        if isinstance(workflow, WorkflowSpec):
            return workflow
        return run_service.checked(workflow.spec)

    def get_workflow(self, workflow: WorkflowRef) -> WorkflowSpec:
        """A workflow by name (declared here, or registered in the database), spec or
        builder."""
        if isinstance(workflow, WorkflowSpec | Workflow):
            return self._spec(workflow)
        declared = self._workflows.get(workflow)
        if declared is not None:
            return self._spec(declared)
        return run_service.registered_workflow(self.store, workflow)

    def run_plan(self, workflow: WorkflowRef, input: Any = None) -> RunPlan:
        """What a run would do, without running it."""
        return run_service.plan(self.get_workflow(workflow), input)

    # -- runs -------------------------------------------------------------------------
    def start_run(
        self,
        workflow: WorkflowRef,
        input: Any = None,
        *,
        key: str | None = None,
        actor: str | None = None,
    ) -> RunHandle:
        """Start a run. With ``key``, starting the same workflow and input again
        returns the first run (``created`` False); another input raises
        ``IdempotencyConflict``. A workflow given as a spec or builder is recorded
        first; the handle's operations are those of ``app.runs``."""
        spec = self.get_workflow(workflow)
        self._record(self.store, [spec])
        run_id, created = run_service.start_run(self.store, spec, input, key=key, actor=actor)
        return RunHandle(self.runs, run_id, created)

    def get_run(self, run_id: str) -> RunInfo:
        """A run and its phases; ``NotFound`` if there is none."""
        return run_service.get_run(self.store, run_id)

    def list_runs(
        self, *, state: RunState | None = None, workflow: str | None = None, limit: int = 50
    ) -> list[RunInfo]:
        """Runs, newest first."""
        return run_service.list_runs(self.store, state=state, workflow=workflow, limit=limit)

    def run_events(self, run_id: str) -> list[EventInfo]:
        """A run's history (its events and its tasks'), oldest first."""
        return run_service.run_events(self.store, run_id)

    def wait_run(self, run_id: str, timeout: float | None = None) -> RunInfo:
        """Wait until the run ended or needs a person (paused, or a phase awaiting
        approval) and return it; ``WaitTimeout`` after ``timeout`` seconds."""
        started = time.monotonic()
        run = run_service.wait_run(self.store, run_id, timeout)
        if not settled(run):
            waited = time.monotonic() - started
            raise WaitTimeout(
                f"run {run_id} is still {run.state} after {waited:.1f}s", run_id=run_id
            )
        return run

    def pause_run(self, run_id: str, *, actor: str | None = None) -> RunInfo:
        """Start nothing new in the run until it is resumed."""
        return run_service.pause(self.store, run_id, actor)

    def resume_run(self, run_id: str, *, actor: str | None = None) -> RunInfo:
        """Continue a paused run."""
        return run_service.resume(self.store, run_id, actor)

    def cancel_run(self, run_id: str, *, actor: str | None = None) -> RunInfo:
        """Cancel a run: its tasks stop (``ctx.cancelled``), its compensations run."""
        return run_service.cancel(self.store, run_id, actor)

    def retry_run(
        self, run_id: str, *, from_phase: str | None = None, actor: str | None = None
    ) -> RunInfo:
        """Run a failed or cancelled run again from its failed phase (or
        ``from_phase``), reusing the results of the phases before it."""
        return run_service.retry(self.store, run_id, from_phase, actor)

    def approve(self, run_id: str, phase: str, *, by: str) -> RunInfo:
        """Approve a phase awaiting approval (``by``: a registered human agent)."""
        return run_service.approve(self.store, run_id, phase, by)

    def reject(self, run_id: str, phase: str, *, by: str, reason: str) -> RunInfo:
        """Reject a phase awaiting approval: the run fails (and compensates)."""
        return run_service.reject(self.store, run_id, phase, by, reason)

    def waive(
        self, run_id: str, phase: str, *, owner: str, expires: str | float, control: str
    ) -> RunInfo:
        """Record a waiver for a phase's gate (see ``coord gate waive``)."""
        return run_service.waive(
            self.store, run_id, phase, owner=owner, expires=expires, control=control
        )

    def set_budget(self, run_id: str, phase: str | None = None, **limits: float) -> RunInfo:
        """Set the limits (``tokens``, ``usd``, ``tool_seconds``) of a run or phase."""
        target = run_id if phase is None else f"{run_id}:{phase}"
        return run_service.set_budget(self.store, target, limits)

    def run_cost(self, run_id: str) -> RunCost:
        """Usage per phase against its budget."""
        return run_service.cost(self.store, run_id)

    def run_artifacts(self, run_id: str) -> list[ArtifactInfo]:
        """A run's artifacts with their provenance."""
        run_service.get_run(self.store, run_id)
        return self.store.run_artifacts(run_id)

    def artifact_content(self, digest: str) -> bytes:
        """An artifact's bytes by digest; ``NotFound`` if there is none."""
        content = self.store.artifact_content(digest)
        if content is None:
            raise NotFound(f"no artifact {digest}", digest=digest)
        return content

    def write_dossier(self, run_id: str, out: str | Path) -> list[str]:
        """Write a run's artifacts, gates, costs and history into ``out``."""
        return dossier.write_dossier(self.store, run_id, out)
