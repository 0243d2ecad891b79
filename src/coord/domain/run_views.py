"""Read models of workflows and runs, returned by services to the CLI and the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from coord.domain.runs import PhaseState, RunState


class _View(BaseModel):
    # defer_build: a model's validators are built when it is first used, not when its
    # module is imported; a command that shows tasks should not pay for every view.
    model_config = ConfigDict(frozen=True, defer_build=True)


class WorkflowInfo(_View):
    """A registered workflow definition."""

    name: str
    description: str | None
    phases: list[str]
    updated_at: datetime
    definition: dict[str, Any]


class PhaseInfo(_View):
    """One phase of a run as people see it."""

    name: str
    state: PhaseState
    task: str
    after: list[str]
    attempt: int
    loops: int
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime | None
    items: int | None = None  # fan-out: how many items
    result: Any = None
    gate: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    approval: dict[str, Any] | None = None
    waiver: dict[str, Any] | None = None
    budget: dict[str, Any] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)

    @property
    def result_summary(self) -> str:
        """A short rendering of the result for tables."""
        return summarize(self.result)


class RunInfo(_View):
    """A run; ``phases`` is filled when one run is asked for."""

    id: str
    workflow: str
    state: RunState
    reason: str | None
    detail: Any = None
    input: Any = None
    key: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    budget: dict[str, Any] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)
    phases: list[PhaseInfo] = Field(default_factory=list)

    def phase(self, name: str) -> PhaseInfo:
        """The phase called ``name``; ``KeyError`` if there is none."""
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(name)


class ArtifactInfo(_View):
    """An artifact a run's task stored, with its provenance."""

    run_id: str
    phase: str
    name: str
    digest: str
    size: int
    media_type: str
    task_id: str
    task_attempt: int
    phase_attempt: int
    producer: str
    tool: str | None
    inputs: list[str]
    created_at: datetime


def settled(run: RunInfo) -> bool:
    """True when the run will not move on by itself: it ended, is paused, or a phase
    awaits a person's approval."""
    if run.state.is_terminal or run.state is RunState.PAUSED:
        return True
    return any(p.state is PhaseState.AWAITING_APPROVAL for p in run.phases)


def summarize(value: Any, width: int = 60) -> str:
    """A one-line rendering of a result, cut to ``width`` characters."""
    if value is None:
        return ""
    if isinstance(value, dict):
        text = ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    elif isinstance(value, list):
        text = f"[{len(value)} items]"
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, list):
        return f"[{len(value)}]"
    return str(value)


class PlanPhase(_View):
    """One phase as a run would execute it."""

    name: str
    group: int  # the parallel group (0 runs first)
    task: str
    after: list[str]
    params: dict[str, Any] = Field(default_factory=dict)
    fan_out: dict[str, Any] | None = None
    timebox_s: float | None = None
    budget: dict[str, Any] = Field(default_factory=dict)
    gate: dict[str, Any] | None = None
    required_evidence: list[str] = Field(default_factory=list)
    heartbeat_s: float | None = None
    stall_after: int | None = None
    retries: int | None = None
    compensate: str | None = None


class RunPlan(_View):
    """What a run of a workflow would do, without running it."""

    workflow: str
    description: str | None
    input: Any = None
    budget: dict[str, Any] = Field(default_factory=dict)
    groups: list[list[str]]
    phases: list[PlanPhase]


class PhaseCost(_View):
    """What one phase (or the whole run, ``phase`` None) charged against its budget."""

    phase: str | None
    usage: dict[str, Any]
    budget: dict[str, Any]
    over: dict[str, Any] = Field(default_factory=dict)


class RunCost(_View):
    """A run's usage per phase against the budgets."""

    run_id: str
    state: RunState
    phases: list[PhaseCost]
    total: PhaseCost
