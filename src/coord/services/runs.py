"""Workflow and run use cases: definitions, plans, starting, inspecting and steering
runs (signals, gates, budgets), costs. The CLI, the SDK and the API call these."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from coord.domain import bounds, content
from coord.domain.budgets import budget_from_dict, overruns, parse_limits, usage_dict
from coord.domain.durations import parse_duration
from coord.domain.events import RUN_STARTED
from coord.domain.ids import new_id
from coord.domain.run_views import (
    ArtifactInfo,
    PhaseCost,
    PlanPhase,
    RunCost,
    RunInfo,
    RunPlan,
    WorkflowInfo,
    settled,
)
from coord.domain.runs import TIMER_TASK, NewRun, RunState, is_artifact_digest
from coord.domain.tasks import Usage
from coord.domain.views import EventInfo
from coord.domain.workflows import WorkflowProblems, WorkflowSpec, line_of, parse_workflow
from coord.errors import InvalidInput, InvalidWorkflow, NotFound, UnknownTask
from coord.ports.runs import Decide, RunListing
from coord.ports.store import Store
from coord.security.rbac import RoleBook
from coord.services import access
from coord.services.access import Principal
from coord.workflows import decisions
from coord.workflows.definitions import load_yaml_file

MAX_LIST_LIMIT = 10_000
MAX_INPUT_BYTES = 1_048_576
_MAX_TEXT = 1000


def checked(fn: Any, *args: Any, **kwargs: Any) -> WorkflowSpec:
    """Call a definition loader, turning its problems into :class:`InvalidWorkflow`."""
    try:
        spec: WorkflowSpec = fn(*args, **kwargs)
    except WorkflowProblems as exc:
        raise InvalidWorkflow(
            str(exc),
            workflow=exc.name,
            problems=[
                {
                    "phase": p.phase,
                    "path": ".".join(p.path),
                    "line": line_of(exc.lines, p.path),
                    "message": m,
                }
                for p, m in zip(exc.problems, exc.describe_all(), strict=True)
            ],
        ) from None
    return spec


def load_yaml(path: str | Path, *, known_tasks: Iterable[str] | None = None) -> WorkflowSpec:
    """A YAML definition file, validated (task names too, when ``known_tasks``)."""
    return checked(load_yaml_file, path, known_tasks=known_tasks)


def run_id(value: str) -> str:
    """A run id in canonical form; refuse anything but a UUID."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidInput(f"run id: {value!r} is not a run id (a UUID)", field="run") from None


# -- definitions ----------------------------------------------------------------------
def register_workflows(store: Store, specs: Iterable[WorkflowSpec]) -> None:
    """Record definitions in the database (for ``coord workflow list`` and runs
    started by name from anywhere)."""
    definitions = [spec.to_dict() for spec in specs]
    if definitions:
        store.register_workflows(definitions)


def list_workflows(store: Store) -> list[WorkflowInfo]:
    """Registered workflows."""
    return store.list_workflows()


def get_workflow(store: Store, name: str) -> WorkflowInfo:
    """A registered workflow by name, with its definition; ``NotFound`` if there is
    none."""
    _texts(workflow=name)
    found = store.get_workflow(name)
    if found is None:
        raise NotFound(
            f"no workflow {name!r} is registered: give a YAML file, or start a worker (or "
            "any App) that declares it",
            workflow=name,
        )
    return found


def registered_workflow(store: Store, name: str) -> WorkflowSpec:
    """A registered workflow by name, parsed; ``NotFound`` if there is none."""
    return checked(parse_workflow, get_workflow(store, name).definition)


def known_tasks(store: Store, names: Iterable[str]) -> set[str]:
    """Which of ``names`` have a registered task policy."""
    return store.registered_tasks(sorted(set(names)))


def check_tasks(spec: WorkflowSpec, known: set[str]) -> None:
    """Refuse a workflow naming a task no App registered."""
    checked(parse_workflow, spec.to_dict(), known_tasks=known | {TIMER_TASK})


def plan(spec: WorkflowSpec, run_input: Any = None) -> RunPlan:
    """What a run would do, in order, without running anything (the input is
    checked as :func:`start_run` would)."""
    try:
        content.encode(run_input, "input")
    except content.ContentInvalid as exc:
        raise InvalidInput.of(exc) from None
    groups = spec.groups()
    group_of = {name: index for index, group in enumerate(groups) for name in group}
    phases = []
    for name in spec.order():
        p = spec.phase(name)
        gate = None
        if p.gate is not None:
            gate = {
                "rubric": dict(p.gate.rubric),
                "evidence": list(p.gate.evidence),
                "fix": p.gate.fix,
                "max_loops": p.gate.max_loops,
                "approval": p.gate.approval,
            }
        phases.append(
            PlanPhase(
                name=name,
                group=group_of[name],
                task=p.task,
                after=list(p.after),
                params=dict(p.params),
                fan_out=None
                if p.fan_out is None
                else {"over": p.fan_out.over, "parallelism": p.fan_out.parallelism},
                timebox_s=p.timebox,
                budget=p.budget.to_dict(),
                gate=gate,
                required_evidence=_required_evidence(p.gate),
                heartbeat_s=p.heartbeat,
                stall_after=p.stall_after,
                retries=p.retries,
                compensate=p.compensate,
            )
        )
    return RunPlan(
        workflow=spec.name,
        description=spec.description,
        input=run_input,
        budget=spec.budget.to_dict(),
        groups=groups,
        phases=phases,
    )


def _required_evidence(gate: Any) -> list[str]:
    if gate is None:
        return []
    needs = [f"score {name} >= {minimum:g}" for name, minimum in gate.rubric.items()]
    needs += [f"artifact {name}" for name in gate.evidence]
    if gate.approval:
        needs.append(f"approval by a {gate.approval}")
    return needs


# -- runs -----------------------------------------------------------------------------
def start_run(
    store: Store,
    spec: WorkflowSpec,
    run_input: Any = None,
    *,
    key: str | None = None,
    actor: str | None = None,
) -> tuple[str, bool]:
    """Start a run of ``spec``; return its id and whether this call created it (a
    ``key`` that exists already returns that run, or ``IdempotencyConflict``)."""
    if key is not None and not 0 < len(key) <= 500:
        raise InvalidInput("key: use 1-500 characters", field="key")
    try:
        content.check_texts({"key": key})
        size = len(content.encode(run_input, "input"))
    except content.ContentInvalid as exc:
        raise InvalidInput.of(exc) from None
    if size > MAX_INPUT_BYTES:
        raise InvalidInput(
            f"input is {size} bytes, over the limit of {MAX_INPUT_BYTES}", field="input"
        )
    missing = sorted(spec.task_names() - known_tasks(store, spec.task_names()))
    if missing:
        raise UnknownTask(
            f"workflow {spec.name!r} runs tasks no App registered: {', '.join(missing)}; "
            "start a worker (or any App) that declares them with @app.task",
            tasks=missing,
        )
    run = NewRun(
        id=new_id(),
        workflow=spec.name,
        definition=spec.to_dict(),
        input=run_input,
        budget=spec.budget,
        key=key,
        actor=actor,
        phases=tuple(spec.phases),
        phase_budgets={name: p.budget for name, p in spec.phases.items()},
    )
    return store.create_run(run, decisions.start(actor))


def get_run(store: Store, value: str) -> RunInfo:
    """One run with its phases; ``NotFound`` if there is none."""
    found = store.get_run(run_id(value))
    if found is None:
        raise NotFound(f"no run {value}", run_id=value)
    return found


def readable_run(store: Store, value: str, principal: Principal, roles: RoleBook) -> RunInfo:
    """One run as ``principal`` may see it. Without ``read_runs`` it is refused (403)
    before anything is looked up; a run of a workflow whose authority domain the
    caller lacks answers exactly as an unknown id does (404), so an id tells nothing."""
    access.require(principal, "read_runs")
    found = store.get_run(run_id(value))
    if found is None or not principal.in_domain(roles.required_domain("workflow", found.workflow)):
        raise NotFound(f"no run {value}", run_id=value)
    return found


def list_runs(
    store: Store,
    *,
    state: RunState | None = None,
    workflow: str | None = None,
    limit: int = 50,
    before_id: str | None = None,
) -> list[RunInfo]:
    """Runs, newest first (only those older than run ``before_id`` when given)."""
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidInput(f"limit must be 1-{MAX_LIST_LIMIT}", field="limit")
    _texts(workflow=workflow)
    before = None if before_id is None else run_id(before_id)
    return store.list_runs(
        RunListing(state=state, workflow=workflow, limit=limit, before_id=before)
    )


def run_events(store: Store, value: str, after_id: int = 0) -> list[EventInfo]:
    """The run's history, oldest first (events with an id above ``after_id``: 0 for
    all of them)."""
    try:
        after = bounds.whole(after_id, "after", high=bounds.MAX_ID)
    except bounds.OutOfRange as exc:
        raise InvalidInput.of(exc) from None
    get_run(store, value)
    return store.run_events(run_id(value), after)


def run_artifacts(store: Store, value: str) -> list[ArtifactInfo]:
    """The run's artifacts with their provenance, oldest first."""
    run = get_run(store, value)
    return store.run_artifacts(run.id)


def artifact_content(store: Store, value: str, digest: str) -> bytes:
    """The bytes of an artifact of run ``value``, by its digest (``sha256:<hex>``).
    ``NotFound`` unless the run stored an artifact with that digest: the run, not
    the digest alone, decides who may read it."""
    if not is_artifact_digest(digest):
        raise InvalidInput(
            f"digest: {digest!r} is not an artifact digest (sha256: and 64 hex digits)",
            field="digest",
        )
    run = get_run(store, value)
    content_found = None
    if any(a.digest == digest for a in store.run_artifacts(run.id)):
        content_found = store.artifact_content(digest)
    if content_found is None:
        raise NotFound(f"run {run.id} has no artifact {digest}", run_id=run.id, digest=digest)
    return content_found


def wait_run(store: Store, value: str, timeout: float | None = None, poll: float = 0.1) -> RunInfo:
    """Wait until the run ended or needs a person (paused, or a phase awaiting
    approval); return it. ``timeout`` None waits as long as it takes."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.02
    while True:
        run = get_run(store, value)
        if settled(run) or (deadline is not None and time.monotonic() >= deadline):
            return run
        time.sleep(delay)
        delay = min(delay * 1.5, poll)


def _change(store: Store, value: str, decide: Decide) -> RunInfo:
    rid = run_id(value)
    if not store.change_run(rid, decide):
        raise NotFound(f"no run {value}", run_id=value)
    return get_run(store, rid)


def pause(store: Store, value: str, actor: str | None = None) -> RunInfo:
    """Start nothing new in the run until it is resumed."""
    return _change(store, value, decisions.pause(actor))


def resume(store: Store, value: str, actor: str | None = None) -> RunInfo:
    """Continue a paused run."""
    return _change(store, value, decisions.resume(actor))


def cancel(store: Store, value: str, actor: str | None = None) -> RunInfo:
    """Cancel a run: stop its tasks and compensate its succeeded phases."""
    return _change(store, value, decisions.cancel(actor))


def retry(
    store: Store, value: str, from_phase: str | None = None, actor: str | None = None
) -> RunInfo:
    """Run a failed or cancelled run again from its failed phase (or ``from_phase``)."""
    return _change(store, value, decisions.retry(from_phase, actor))


def approve(store: Store, value: str, phase: str, by: str) -> RunInfo:
    """A person approves a phase waiting for approval."""
    _check_approver(store, by)
    return _change(store, value, decisions.approve(phase, by))


def reject(store: Store, value: str, phase: str, by: str, reason: str) -> RunInfo:
    """A person rejects a phase waiting for approval (the run fails)."""
    _check_approver(store, by)
    if not reason.strip() or len(reason) > _MAX_TEXT:
        raise InvalidInput(f"reason: give 1-{_MAX_TEXT} characters", field="reason")
    _texts(reason=reason)
    return _change(store, value, decisions.reject(phase, by, reason))


def _check_approver(store: Store, name: str) -> None:
    _texts(by=name)
    agent = store.get_agent(name)
    if agent is None or not agent.human:
        raise InvalidInput(
            f"approver {name!r} is not a registered human: add them with "
            f"`coord agent add {name} --human`",
            field="by",
        )


def waive(
    store: Store,
    value: str,
    phase: str,
    *,
    owner: str,
    expires: str | float,
    control: str,
) -> RunInfo:
    """Record a gate waiver: its owner, when it expires and the compensating control."""
    if not owner.strip() or len(owner) > 200:
        raise InvalidInput("owner: give 1-200 characters", field="owner")
    if not control.strip() or len(control) > _MAX_TEXT:
        raise InvalidInput(f"control: give 1-{_MAX_TEXT} characters", field="control")
    _texts(owner=owner, control=control)
    try:
        seconds = parse_duration(expires)
    except ValueError as exc:
        raise InvalidInput(f"expires: {exc}", field="expires") from None
    if seconds <= 0:
        raise InvalidInput("expires: must be in the future", field="expires")
    return _change(store, value, decisions.waive(phase, owner, time.time() + seconds, control))


def set_budget(
    store: Store,
    target: str,
    limits: Sequence[str] | Mapping[str, float],
    actor: str | None = None,
) -> RunInfo:
    """Set limits on ``RUN`` or ``RUN:PHASE`` from ``["tokens=N", "usd=X"]`` or a
    mapping."""
    value, _, phase = target.partition(":")
    assignments = (
        [f"{k}={v}" for k, v in limits.items()] if isinstance(limits, Mapping) else list(limits)
    )
    try:
        budget = parse_limits(assignments)
    except ValueError as exc:
        raise InvalidInput.of(exc, "limits") from None
    return _change(store, value, decisions.set_budget(phase or None, budget, actor))


def _texts(**values: str | None) -> None:
    try:
        content.check_texts(values)
    except content.ContentInvalid as exc:
        raise InvalidInput.of(exc) from None


def cost(store: Store, value: str) -> RunCost:
    """Usage per phase against each budget, and the run's total."""
    run = get_run(store, value)
    phases = []
    for p in run.phases:
        phases.append(_cost_line(p.name, p.usage, p.budget))
    return RunCost(
        run_id=run.id, state=run.state, phases=phases, total=_cost_line(None, run.usage, run.budget)
    )


def _cost_line(phase: str | None, usage: dict[str, Any], budget: dict[str, Any]) -> PhaseCost:
    used = Usage(
        tokens_in=int(usage.get("tokens_in", 0)),
        tokens_out=int(usage.get("tokens_out", 0)),
        usd_micros=round(float(usage.get("usd", 0)) * 1_000_000),
        tool_seconds=float(usage.get("tool_seconds", 0)),
    )
    return PhaseCost(
        phase=phase,
        usage=usage_dict(used),
        budget=budget,
        over=overruns(budget_from_dict(budget), used),
    )


def started_by(store: Store, value: str) -> str | None:
    """Who started a run (the actor of its ``run.started`` event), if anyone said."""
    for event in run_events(store, value):
        if event.topic == RUN_STARTED and event.run_id is not None:
            return event.actor
    return None
