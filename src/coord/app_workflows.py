"""The workflows an :class:`coord.App` declares (in Python or YAML), and their recording
in the database it opens, so that ``app.runs`` (and every worker, server and CLI on
that database) can start runs of them by name. Running and steering runs is the
surface's (``app.runs``), not this module's."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from coord.domain.workflows import WorkflowSpec
from coord.errors import ConfigError
from coord.ports.store import Store
from coord.services import runs as run_service
from coord.workflows.definitions import Workflow, load_yaml_file


class DeclaredWorkflows:
    """An App's workflow declarations, and which of them the open database holds as
    they are now."""

    def __init__(self, lock: threading.RLock, store_if_open: Callable[[], Store | None]) -> None:
        self._lock = lock
        self._store_if_open = store_if_open
        self._workflows: dict[str, Workflow | WorkflowSpec] = {}
        self._recorded: dict[str, dict[str, Any]] = {}  # definitions written to the store

    def declare(
        self, name: str, *, budget: Mapping[str, float] | None, description: str | None
    ) -> Workflow:
        """A new builder, declared under ``name`` (see :meth:`coord.App.workflow`)."""
        builder = Workflow(name, budget=budget, description=description)
        self._add(name, builder)
        return builder

    def add(self, workflow: WorkflowSpec | Workflow | str | Path) -> WorkflowSpec:
        """Declare a spec, a builder, or a YAML file (see :meth:`coord.App.add_workflow`)."""
        if isinstance(workflow, str | Path):
            spec = run_service.checked(load_yaml_file, workflow)
        else:
            spec = _spec(workflow)
        self._add(spec.name, spec)
        return spec

    def _add(self, name: str, workflow: Workflow | WorkflowSpec) -> None:
        with self._lock:
            if name in self._workflows:
                raise ConfigError(f"a workflow named {name!r} is declared already")
            self._workflows[name] = workflow
            store = self._store_if_open()
        # A builder is recorded when a run of it starts: its phases come after this.
        if store is not None and isinstance(workflow, WorkflowSpec):
            self._record(store, [workflow])

    def opened(self, store: Store) -> None:
        """Record every declaration in the database just opened."""
        with self._lock:
            self._recorded.clear()
            declared = list(self._workflows.values())
        self._record(store, [_spec(w) for w in declared])

    def record(self, store: Store, name: str) -> None:
        """Record the workflow ``name`` as declared now, if this App declares it and the
        database does not hold it so already: a builder may have grown phases since
        the database was opened. Called before a run of it is planned or started."""
        with self._lock:
            declared = self._workflows.get(name)
        if declared is not None:
            self._record(store, [_spec(declared)])

    def _record(self, store: Store, specs: list[WorkflowSpec]) -> None:
        """Write definitions to the store, unless written already as they are."""
        new = [s for s in specs if self._recorded.get(s.name) != s.to_dict()]
        if new:
            run_service.register_workflows(store, new)
            with self._lock:
                self._recorded.update((s.name, s.to_dict()) for s in new)


def _spec(workflow: Workflow | WorkflowSpec) -> WorkflowSpec:
    if isinstance(workflow, WorkflowSpec):
        return workflow
    return run_service.checked(workflow.spec)
