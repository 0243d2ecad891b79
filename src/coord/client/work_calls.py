"""The API operations on work, as data (see :mod:`.calls`): tasks, queues, dead
letters, workflows, runs, gates and budgets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from coord.client.calls import Call, Pager, model, models, page_of, pager, query, seg
from coord.domain.pages import Page
from coord.domain.run_views import ArtifactInfo, RunCost, RunInfo, RunPlan, WorkflowInfo
from coord.domain.views import DeadLetterGroup, EventInfo, QueueStats, TaskInfo
from coord.errors import InvalidInput
from coord.operations.queries import EnqueueOptions, RunFilter, TaskFilter
from coord.operations.results import Enqueued, Started


def _options(options: EnqueueOptions) -> dict[str, Any]:
    delay = options.delay
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else delay
    return query(priority=options.priority, delay=seconds, queue=options.queue)


# -- tasks ---------------------------------------------------------------------------
def enqueue(
    task: str, payload: Mapping[str, Any] | None, key: str | None, options: EnqueueOptions
) -> Call[Enqueued]:
    """``POST /tasks``."""
    body = {"task": task, "payload": dict(payload or {}), **_options(options)}
    if key is not None:
        body["key"] = key
    return Call("POST", "/tasks", model(Enqueued), body=body, retry=key is not None)


def enqueue_many(
    task: str,
    payloads: Sequence[Mapping[str, Any]],
    keys: Sequence[str | None] | None,
    options: EnqueueOptions,
) -> Call[list[Enqueued]]:
    """``POST /tasks/batch``: all or none."""
    given = list(keys) if keys is not None else [None] * len(payloads)
    if len(given) != len(payloads):
        raise InvalidInput(f"keys: {len(given)} keys for {len(payloads)} payloads", field="keys")
    items = [{"payload": dict(p), **query(key=k)} for p, k in zip(payloads, given, strict=True)]
    body = {"task": task, "items": items, **_options(options)}
    keyed = all(k is not None for k in given)
    return Call("POST", "/tasks/batch", models(Enqueued), body=body, retry=keyed)


def tasks_pager(q: TaskFilter) -> Pager[TaskInfo]:
    """Pages of ``GET /tasks``, newest first."""
    return pager("/tasks", TaskInfo, state=q.state, queue=q.queue, name=q.name)


def task(task_id: str) -> Call[TaskInfo]:
    """``GET /tasks/{id}``."""
    return Call("GET", f"/tasks/{seg(task_id)}", model(TaskInfo), retry=True)


def task_events(task_id: str) -> Pager[EventInfo]:
    """Pages of ``GET /tasks/{id}/events``, oldest first."""
    return pager(f"/tasks/{seg(task_id)}/events", EventInfo)


def cancel_task(task_id: str) -> Call[TaskInfo]:
    """``POST /tasks/{id}/cancel``."""
    return Call("POST", f"/tasks/{seg(task_id)}/cancel", model(TaskInfo))


def retry_task(task_id: str, reset_steps: bool | Sequence[str]) -> Call[TaskInfo]:
    """``POST /tasks/{id}/retry``."""
    body = {"reset_steps": _steps(reset_steps)}
    return Call("POST", f"/tasks/{seg(task_id)}/retry", model(TaskInfo), body=body)


def _steps(reset_steps: bool | Sequence[str]) -> bool | list[str]:
    return reset_steps if isinstance(reset_steps, bool) else list(reset_steps)


def queues() -> Pager[QueueStats]:
    """Pages of ``GET /queues``."""
    return pager("/queues", QueueStats)


def dead_letters() -> Pager[DeadLetterGroup]:
    """Pages of ``GET /dead-letters``."""
    return pager("/dead-letters", DeadLetterGroup)


def replay_dead(
    task_ids: Sequence[str] | None, *, every: bool, reset_steps: bool | Sequence[str] = False
) -> Call[list[str]]:
    """``POST /dead-letters/retry``: the tasks named, or with ``every`` all dead tasks
    (the server refuses a call that does neither, or both)."""

    def parse(data: Any) -> list[str]:
        return [str(i) for i in data["replayed"]]

    body: dict[str, Any] = {"reset_steps": _steps(reset_steps)}
    if task_ids is not None:
        body["task_ids"] = list(task_ids)
    if every:
        body["all"] = True
    return Call("POST", "/dead-letters/retry", parse, body=body)


# -- workflows and runs ----------------------------------------------------------------
def workflows() -> Pager[WorkflowInfo]:
    """Pages of ``GET /workflows``."""
    return pager("/workflows", WorkflowInfo)


def workflow(name: str) -> Call[WorkflowInfo]:
    """``GET /workflows/{name}``."""
    return Call("GET", f"/workflows/{seg(name)}", model(WorkflowInfo), retry=True)


def plan(workflow: str, run_input: Any) -> Call[RunPlan]:
    """``POST /workflows/{name}/plan`` (runs nothing)."""
    path = f"/workflows/{seg(workflow)}/plan"
    return Call("POST", path, model(RunPlan), body={"input": run_input}, retry=True)


def start_run(workflow: str, run_input: Any, key: str | None) -> Call[Started]:
    """``POST /runs``."""
    body = {"workflow": workflow, "input": run_input, **query(key=key)}
    return Call("POST", "/runs", model(Started), body=body, retry=key is not None)


def runs_page(q: RunFilter, size: int, cursor: str | None) -> Call[Page[RunInfo]]:
    """One page of ``GET /runs``, newest first."""
    params = query(state=q.state, workflow=q.workflow, limit=size, cursor=cursor)
    return Call("GET", "/runs", page_of(RunInfo), params, retry=True)


def run(run_id: str) -> Call[RunInfo]:
    """``GET /runs/{id}``."""
    return Call("GET", f"/runs/{seg(run_id)}", model(RunInfo), retry=True)


def run_events(run_id: str, after: int) -> Pager[EventInfo]:
    """Pages of ``GET /runs/{id}/events``, oldest first (events after id ``after``)."""
    return pager(f"/runs/{seg(run_id)}/events", EventInfo, after_id=after or None)


def run_cost(run_id: str) -> Call[RunCost]:
    """``GET /runs/{id}/cost``."""
    return Call("GET", f"/runs/{seg(run_id)}/cost", model(RunCost), retry=True)


def run_artifacts(run_id: str) -> Pager[ArtifactInfo]:
    """Pages of ``GET /runs/{id}/artifacts``, oldest first."""
    return pager(f"/runs/{seg(run_id)}/artifacts", ArtifactInfo)


def artifact(run_id: str, digest: str) -> Call[bytes]:
    """``GET /runs/{id}/artifacts/{digest}``: the artifact's bytes."""
    path = f"/runs/{seg(run_id)}/artifacts/{seg(digest)}"
    return Call("GET", path, bytes, retry=True, raw=True)


def signal(run_id: str, action: str, body: Any = None) -> Call[RunInfo]:
    """``POST /runs/{id}/{pause|resume|cancel|retry}``."""
    # Pausing or resuming twice ends in the same state: safe to repeat.
    again = action in ("pause", "resume")
    path = f"/runs/{seg(run_id)}/{action}"
    return Call("POST", path, model(RunInfo), body=body, retry=again)


def gate(run_id: str, phase: str, action: str, body: Any = None) -> Call[RunInfo]:
    """``POST /runs/{id}/phases/{phase}/{approve|reject|waive}``."""
    path = f"/runs/{seg(run_id)}/phases/{seg(phase)}/{action}"
    return Call("POST", path, model(RunInfo), body=body)


def set_budget(
    run_id: str,
    phase: str | None,
    tokens: int | None,
    usd: float | None,
    tool_seconds: float | None,
) -> Call[RunInfo]:
    """``PUT /runs/{id}/budget``."""
    body = query(phase=phase, tokens=tokens, usd=usd, tool_seconds=tool_seconds)
    return Call("PUT", f"/runs/{seg(run_id)}/budget", model(RunInfo), body=body, retry=True)
