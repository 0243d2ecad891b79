"""Workflows and runs: plan, start, inspect, signals, gates, budgets and cost.

A workflow may require an authority domain (the RBAC file's ``requirements``); its
runs inherit it. Controlling a run takes ``control_runs``, or ``start_run`` for a
run the caller started. Approving or rejecting takes ``approve_gate`` and a human
caller, who did not start the run: nobody approves their own gate.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from coord.api import pages
from coord.api.deps import Authenticated, Caller, require
from coord.api.idempotent import IdempotencyKey, respond, the_key
from coord.api.models import Body, Duration, IdPath, Key, Text
from coord.domain import bounds
from coord.domain.run_views import RunCost, RunInfo, RunPlan, WorkflowInfo
from coord.domain.runs import RunState
from coord.domain.views import EventInfo
from coord.errors import Forbidden, InvalidInput
from coord.services import runs as service

router = APIRouter(tags=["runs"])

WorkflowPath = Annotated[str, Path(min_length=1, max_length=200)]
PhasePath = Annotated[str, Path(min_length=1, max_length=200)]


class PlanBody(Body):
    """The input a run would get."""

    input: Any = None


class StartBody(Body):
    """A run of a registered workflow."""

    workflow: str = Field(min_length=1, max_length=200)
    input: Any = None
    key: Key | None = Field(None, description="Idempotency key: the same key starts one run.")


class Started(BaseModel):
    """The run's id, and whether this call started it."""

    id: str
    created: bool


class RetryBody(Body):
    """Where to run a failed or cancelled run again from (default: its failed phase)."""

    from_phase: str | None = Field(None, min_length=1, max_length=200)


class RejectBody(Body):
    """Why a phase is rejected."""

    reason: Text


class WaiveBody(Body):
    """A waiver of a phase's gate; its owner is the caller."""

    expires: Duration = Field(description="How long the waiver holds, e.g. 7d.")
    control: Text = Field(description="The compensating control while it holds.")


class BudgetBody(Body):
    """Limits on a run, or on one of its phases (each within its range: the service
    refuses anything beyond, naming the field)."""

    phase: str | None = Field(None, min_length=1, max_length=200)
    tokens: int | None = Field(None, ge=0, le=bounds.MAX_TOKENS)
    usd: float | None = Field(None, ge=0, le=bounds.MAX_USD)
    tool_seconds: float | None = Field(None, ge=0, le=bounds.MAX_DURATION)


def _workflow_domain(who: Caller, workflow: str) -> str | None:
    return who.server.roles.required_domain("workflow", workflow)


def _readable(who: Caller, run_id: str) -> RunInfo:
    return service.readable_run(who.store, run_id, who.principal, who.server.roles)


def _controllable(who: Caller, run_id: str) -> RunInfo:
    run = _readable(who, run_id)
    domain = _workflow_domain(who, run.workflow)
    if who.principal.can("control_runs"):
        require(who, "control_runs", domain=domain)
        return run
    require(who, "start_run", domain=domain)
    if service.started_by(who.store, run.id) != who.agent:
        raise Forbidden(
            f"run {run.id} was started by another agent: controlling it needs the "
            "control_runs permission",
            permission="control_runs",
        )
    return run


def _approver(who: Caller, run_id: str) -> RunInfo:
    run = _readable(who, run_id)
    require(who, "approve_gate", domain=_workflow_domain(who, run.workflow))
    if not who.principal.human:
        raise Forbidden(
            f"agent {who.agent!r} is not a human: only people approve gates",
            permission="approve_gate",
        )
    if service.started_by(who.store, run.id) == who.agent:
        raise Forbidden(
            f"{who.agent!r} started run {run.id}: nobody approves their own gate",
            permission="approve_gate",
        )
    return run


@router.get("/workflows", operation_id="listWorkflows", response_model=pages.Page[WorkflowInfo])
def workflows(
    who: Authenticated, limit: pages.Limit = 100, cursor: pages.Cursor = None
) -> pages.Page[WorkflowInfo]:
    """Workflows registered in the database."""
    require(who, "read_runs")
    return pages.of_list(service.list_workflows(who.store), limit, cursor)


@router.post("/workflows/{name}/plan", operation_id="planRun", response_model=RunPlan)
def plan(who: Authenticated, name: WorkflowPath, body: PlanBody) -> RunPlan:
    """What a run would do (its parallel groups, budgets, gates); runs nothing."""
    require(who, "read_runs", domain=_workflow_domain(who, name))
    return service.plan(service.registered_workflow(who.store, name), body.input)


@router.post(
    "/runs",
    operation_id="startRun",
    response_model=Started,
    status_code=201,
    responses={200: {"model": Started, "description": "Started before under the same key"}},
)
def start(
    who: Authenticated, body: StartBody, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Start a run of a registered workflow (201; 200 when its key found the first)."""
    require(who, "start_run", domain=_workflow_domain(who, body.workflow))
    key = the_key(idempotency_key, body.key)

    def act() -> tuple[int, Any]:
        spec = service.registered_workflow(who.store, body.workflow)
        run_id, created = service.start_run(who.store, spec, body.input, key=key, actor=who.agent)
        return (201 if created else 200), Started(id=run_id, created=created)

    return respond(who, "startRun", idempotency_key, body, act)


@router.get("/runs", operation_id="listRuns", response_model=pages.Page[RunInfo])
def list_runs(
    who: Authenticated,
    state: RunState | None = None,
    workflow: Annotated[str | None, Query(max_length=200)] = None,
    limit: pages.Limit = 50,
    cursor: pages.Cursor = None,
) -> pages.Page[RunInfo]:
    """Runs, newest first (those of workflows the caller's domains cover)."""
    require(who, "read_runs")
    before = pages.decode_id(cursor)
    found = service.list_runs(
        who.store, state=state, workflow=workflow, limit=limit + 1, before_id=before
    )
    result = pages.page(found, limit, lambda r: r.id)
    result.data = [
        r for r in result.data if who.principal.in_domain(_workflow_domain(who, r.workflow))
    ]
    return result


@router.get("/runs/{run_id}", operation_id="getRun", response_model=RunInfo)
def get_run(who: Authenticated, run_id: IdPath) -> RunInfo:
    """One run with its phases."""
    return _readable(who, run_id)


@router.get("/runs/{run_id}/events", operation_id="runEvents", response_model=pages.Page[EventInfo])
def run_events(
    who: Authenticated,
    run_id: IdPath,
    after_id: Annotated[
        int, Query(ge=0, le=bounds.MAX_ID, description="Only events with a greater id; 0: all.")
    ] = 0,
    limit: pages.Limit = 100,
    cursor: pages.Cursor = None,
) -> pages.Page[EventInfo]:
    """The run's history, oldest first (of the events after event id ``after_id``)."""
    _readable(who, run_id)
    return pages.of_history(service.run_events(who.store, run_id, after_id), limit, cursor)


@router.get("/runs/{run_id}/cost", operation_id="runCost", response_model=RunCost)
def cost(who: Authenticated, run_id: IdPath) -> RunCost:
    """Usage per phase against each budget."""
    _readable(who, run_id)
    return service.cost(who.store, run_id)


@router.post("/runs/{run_id}/pause", operation_id="pauseRun", response_model=RunInfo)
def pause(who: Authenticated, run_id: IdPath) -> RunInfo:
    """Start nothing new in the run until it is resumed."""
    _controllable(who, run_id)
    return service.pause(who.store, run_id, actor=who.agent)


@router.post("/runs/{run_id}/resume", operation_id="resumeRun", response_model=RunInfo)
def resume(who: Authenticated, run_id: IdPath) -> RunInfo:
    """Continue a paused run."""
    _controllable(who, run_id)
    return service.resume(who.store, run_id, actor=who.agent)


@router.post("/runs/{run_id}/cancel", operation_id="cancelRun", response_model=RunInfo)
def cancel(who: Authenticated, run_id: IdPath) -> RunInfo:
    """Cancel a run: its tasks stop and its succeeded phases are compensated."""
    _controllable(who, run_id)
    return service.cancel(who.store, run_id, actor=who.agent)


@router.post("/runs/{run_id}/retry", operation_id="retryRun", response_model=RunInfo)
def retry(who: Authenticated, run_id: IdPath, body: RetryBody) -> RunInfo:
    """Run a failed or cancelled run again from its failed phase (or from_phase)."""
    _controllable(who, run_id)
    return service.retry(who.store, run_id, body.from_phase, actor=who.agent)


@router.post(
    "/runs/{run_id}/phases/{phase}/approve", operation_id="approvePhase", response_model=RunInfo
)
def approve(who: Authenticated, run_id: IdPath, phase: PhasePath) -> RunInfo:
    """Approve a phase waiting for a person's approval, as the calling human."""
    _approver(who, run_id)
    return service.approve(who.store, run_id, phase, who.agent)


@router.post(
    "/runs/{run_id}/phases/{phase}/reject", operation_id="rejectPhase", response_model=RunInfo
)
def reject(who: Authenticated, run_id: IdPath, phase: PhasePath, body: RejectBody) -> RunInfo:
    """Reject a phase waiting for approval (the run fails and compensates)."""
    _approver(who, run_id)
    return service.reject(who.store, run_id, phase, who.agent, body.reason)


@router.post(
    "/runs/{run_id}/phases/{phase}/waive", operation_id="waiveGate", response_model=RunInfo
)
def waive(who: Authenticated, run_id: IdPath, phase: PhasePath, body: WaiveBody) -> RunInfo:
    """Waive a phase's gate, owned by the caller, until it expires."""
    run = _readable(who, run_id)
    require(who, "waive_gate", domain=_workflow_domain(who, run.workflow))
    return service.waive(
        who.store, run_id, phase, owner=who.agent, expires=body.expires, control=body.control
    )


@router.put("/runs/{run_id}/budget", operation_id="setBudget", response_model=RunInfo)
def set_budget(who: Authenticated, run_id: IdPath, body: BudgetBody) -> RunInfo:
    """Set limits on the run or one phase (then resume a run paused over budget)."""
    run = _readable(who, run_id)
    require(who, "set_budget", domain=_workflow_domain(who, run.workflow))
    limits = {
        k: v
        for k, v in (
            ("tokens", body.tokens),
            ("usd", body.usd),
            ("tool_seconds", body.tool_seconds),
        )
        if v is not None
    }
    if not limits:
        raise InvalidInput("give at least one of tokens, usd and tool_seconds", field="tokens")
    target = run.id if body.phase is None else f"{run.id}:{body.phase}"
    return service.set_budget(who.store, target, limits, actor=who.agent)
