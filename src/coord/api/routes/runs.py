"""Workflows and runs: plan, start, inspect, signals, gates, budgets, cost and
artifacts. Each
route translates HTTP to ``who.ops.runs`` (the surface, acting as the caller), which
decides who may do what.

A workflow may require an authority domain (the RBAC file's ``requirements``); its
runs inherit it. Controlling a run takes ``control_runs``, or ``start_run`` for a
run the caller started. Approving or rejecting takes ``approve_gate`` and a human
caller, who did not start the run: nobody approves their own gate.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from coord.api import pages
from coord.api.deps import Authenticated
from coord.api.idempotent import IdempotencyKey, respond, the_key
from coord.api.models import Body, Duration, IdPath, Key, Text
from coord.domain import bounds
from coord.domain.run_views import ArtifactInfo, RunCost, RunInfo, RunPlan, WorkflowInfo
from coord.domain.runs import RunState
from coord.domain.views import EventInfo
from coord.operations.queries import RunFilter
from coord.operations.results import Started

router = APIRouter(tags=["runs"])

WorkflowPath = Annotated[str, Path(min_length=1, max_length=200)]
PhasePath = Annotated[str, Path(min_length=1, max_length=200)]
# Checked by the surface (the same InvalidInput locally and here), not by a pattern.
DigestPath = Annotated[str, Path(min_length=1, max_length=200, description="sha256:HEX")]
BYTES = "application/octet-stream"


class PlanBody(Body):
    """The input a run would get."""

    input: Any = None


class StartBody(Body):
    """A run of a registered workflow."""

    workflow: str = Field(min_length=1, max_length=200)
    input: Any = None
    key: Key | None = Field(None, description="Idempotency key: the same key starts one run.")


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


@router.get("/workflows", operation_id="listWorkflows", response_model=pages.Page[WorkflowInfo])
def workflows(
    who: Authenticated, limit: pages.Limit = 100, cursor: pages.Cursor = None
) -> pages.Page[WorkflowInfo]:
    """Workflows registered in the database."""
    return pages.of_list(who.ops.runs.workflows(), limit, cursor)


@router.get("/workflows/{name}", operation_id="getWorkflow", response_model=WorkflowInfo)
def get_workflow(who: Authenticated, name: WorkflowPath) -> WorkflowInfo:
    """One registered workflow with its definition."""
    return who.ops.runs.workflow(name)


@router.post("/workflows/{name}/plan", operation_id="planRun", response_model=RunPlan)
def plan(who: Authenticated, name: WorkflowPath, body: PlanBody) -> RunPlan:
    """What a run would do (its parallel groups, budgets, gates); runs nothing."""
    return who.ops.runs.plan(name, body.input)


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
    key = the_key(idempotency_key, body.key)

    def act() -> tuple[int, Any]:
        handle = who.ops.runs.start(body.workflow, body.input, key=key)
        return (201 if handle.created else 200), Started(id=handle.id, created=handle.created)

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
    return who.ops.runs.page(RunFilter(state, workflow, limit), cursor)


@router.get("/runs/{run_id}", operation_id="getRun", response_model=RunInfo)
def get_run(who: Authenticated, run_id: IdPath) -> RunInfo:
    """One run with its phases."""
    return who.ops.runs.get(run_id)


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
    return pages.of_history(who.ops.runs.events(run_id, after_id), limit, cursor)


@router.get("/runs/{run_id}/cost", operation_id="runCost", response_model=RunCost)
def cost(who: Authenticated, run_id: IdPath) -> RunCost:
    """Usage per phase against each budget."""
    return who.ops.runs.cost(run_id)


@router.get(
    "/runs/{run_id}/artifacts",
    operation_id="listArtifacts",
    response_model=pages.Page[ArtifactInfo],
)
def artifacts(
    who: Authenticated, run_id: IdPath, limit: pages.Limit = 100, cursor: pages.Cursor = None
) -> pages.Page[ArtifactInfo]:
    """The artifacts the run's tasks stored, oldest first, with their provenance."""
    return pages.of_list(who.ops.runs.artifacts(run_id), limit, cursor)


@router.get(
    "/runs/{run_id}/artifacts/{digest}",
    operation_id="getArtifact",
    response_class=Response,
    responses={200: {"content": {BYTES: {"schema": {"type": "string", "format": "binary"}}}}},
)
def artifact(who: Authenticated, run_id: IdPath, digest: DigestPath) -> Response:
    """The bytes of one of the run's artifacts, as stored (``digest``: sha256:HEX,
    as ``listArtifacts`` shows it)."""
    return Response(who.ops.runs.artifact(run_id, digest), media_type=BYTES)


@router.post("/runs/{run_id}/pause", operation_id="pauseRun", response_model=RunInfo)
def pause(who: Authenticated, run_id: IdPath) -> RunInfo:
    """Start nothing new in the run until it is resumed."""
    return who.ops.runs.pause(run_id)


@router.post("/runs/{run_id}/resume", operation_id="resumeRun", response_model=RunInfo)
def resume(who: Authenticated, run_id: IdPath) -> RunInfo:
    """Continue a paused run."""
    return who.ops.runs.resume(run_id)


@router.post("/runs/{run_id}/cancel", operation_id="cancelRun", response_model=RunInfo)
def cancel(who: Authenticated, run_id: IdPath) -> RunInfo:
    """Cancel a run: its tasks stop and its succeeded phases are compensated."""
    return who.ops.runs.cancel(run_id)


@router.post("/runs/{run_id}/retry", operation_id="retryRun", response_model=RunInfo)
def retry(who: Authenticated, run_id: IdPath, body: RetryBody) -> RunInfo:
    """Run a failed or cancelled run again from its failed phase (or from_phase)."""
    return who.ops.runs.retry(run_id, from_phase=body.from_phase)


@router.post(
    "/runs/{run_id}/phases/{phase}/approve", operation_id="approvePhase", response_model=RunInfo
)
def approve(who: Authenticated, run_id: IdPath, phase: PhasePath) -> RunInfo:
    """Approve a phase waiting for a person's approval, as the calling human."""
    return who.ops.runs.approve(run_id, phase)


@router.post(
    "/runs/{run_id}/phases/{phase}/reject", operation_id="rejectPhase", response_model=RunInfo
)
def reject(who: Authenticated, run_id: IdPath, phase: PhasePath, body: RejectBody) -> RunInfo:
    """Reject a phase waiting for approval (the run fails and compensates)."""
    return who.ops.runs.reject(run_id, phase, body.reason)


@router.post(
    "/runs/{run_id}/phases/{phase}/waive", operation_id="waiveGate", response_model=RunInfo
)
def waive(who: Authenticated, run_id: IdPath, phase: PhasePath, body: WaiveBody) -> RunInfo:
    """Waive a phase's gate, owned by the caller, until it expires."""
    return who.ops.runs.waive(run_id, phase, expires=body.expires, control=body.control)


@router.put("/runs/{run_id}/budget", operation_id="setBudget", response_model=RunInfo)
def set_budget(who: Authenticated, run_id: IdPath, body: BudgetBody) -> RunInfo:
    """Set limits on the run or one phase (then resume a run paused over budget)."""
    return who.ops.runs.set_budget(
        run_id, phase=body.phase, tokens=body.tokens, usd=body.usd, tool_seconds=body.tool_seconds
    )
