"""Tasks: enqueue (one or a batch), list, get, events, cancel; queues; dead letters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool

from coord.api import pages
from coord.api.deps import Authenticated, Caller
from coord.api.idempotent import IdempotencyKey, respond, the_key
from coord.api.models import Body, Duration, IdPath, Key, TaskName
from coord.domain.steps import MAX_NAME_LENGTH, MAX_RESET_NAMES
from coord.domain.tasks import TaskState
from coord.domain.views import DeadLetterGroup, EventInfo, QueueStats, TaskInfo
from coord.operations.queries import EnqueueOptions as Options
from coord.operations.queries import TaskFilter
from coord.operations.results import Enqueued

router = APIRouter(tags=["tasks"])

MAX_BATCH = 1000


class EnqueueOptions(Body):
    """How to enqueue: priority, a delay, a queue other than the task's own."""

    priority: str | int | None = Field(None, description="low, normal, high, critical or 0-3")
    delay: Duration | None = None
    queue: str | None = Field(None, min_length=1, max_length=200)


class EnqueueBody(EnqueueOptions):
    """One task of a registered name."""

    task: TaskName
    payload: dict[str, Any] = Field(default_factory=dict)
    key: Key | None = Field(None, description="Idempotency key: one task per (name, key).")


class BatchItem(Body):
    """One task of a batch."""

    payload: dict[str, Any] = Field(default_factory=dict)
    key: Key | None = None


class EnqueueBatchBody(EnqueueOptions):
    """Tasks of one name, enqueued in one transaction, all or none."""

    task: TaskName
    items: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH)


StepName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
ResetSteps = Annotated[
    StrictBool | Annotated[list[StepName], Field(min_length=1, max_length=MAX_RESET_NAMES)],
    Field(
        description="Forget recorded steps first, so that they run again: true for all of "
        "them, or step names (each resets every call of that step); a reset also clears "
        "the checkpoint.",
    ),
]


class RetryBody(Body):
    """How to retry a task."""

    reset_steps: ResetSteps = False


class ReplayBody(RetryBody):
    """Dead tasks to retry: those named, or every one with ``all: true`` (an empty
    body retries nothing: it is refused, naming ``task_ids``)."""

    task_ids: list[Annotated[str, Field(max_length=64)]] | None = Field(
        None, min_length=1, max_length=10_000, description="The dead tasks to retry."
    )
    all: bool = Field(False, description="Retry every dead task (instead of task_ids).")


class Replayed(BaseModel):
    """Ids of the tasks made pending again."""

    replayed: list[str]


def _enqueue(who: Caller, body: EnqueueOptions, task: str, items: list[BatchItem]) -> list[Any]:
    options = Options(priority=body.priority, delay=body.delay, queue=body.queue)
    return who.ops.tasks.enqueue_many(
        task, [i.payload for i in items], keys=[i.key for i in items], options=options
    )


@router.post(
    "/tasks",
    operation_id="enqueueTask",
    response_model=Enqueued,
    status_code=201,
    responses={200: {"model": Enqueued, "description": "Enqueued before under the same key"}},
)
def enqueue(
    who: Authenticated, body: EnqueueBody, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Enqueue a task of a registered name (201; 200 when its key found the first)."""
    item = BatchItem(payload=body.payload, key=the_key(idempotency_key, body.key))

    def act() -> tuple[int, Any]:
        result = _enqueue(who, body, body.task, [item])[0]
        return (201 if result.created else 200), result

    return respond(who, "enqueueTask", idempotency_key, body, act)


@router.post(
    "/tasks/batch",
    operation_id="enqueueTasks",
    response_model=list[Enqueued],
    status_code=201,
)
def enqueue_batch(
    who: Authenticated, body: EnqueueBatchBody, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Enqueue many tasks of one name in one transaction."""
    return respond(
        who,
        "enqueueTasks",
        idempotency_key,
        body,
        lambda: (201, _enqueue(who, body, body.task, body.items)),
    )


@router.get("/tasks", operation_id="listTasks", response_model=pages.Page[TaskInfo])
def list_tasks(
    who: Authenticated,
    state: TaskState | None = None,
    queue: Annotated[str | None, Query(max_length=200)] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
    limit: pages.Limit = 50,
    cursor: pages.Cursor = None,
) -> pages.Page[TaskInfo]:
    """Tasks, newest first."""
    return who.ops.tasks.page(TaskFilter(state, queue, name, limit), cursor)


@router.get("/tasks/{task_id}", operation_id="getTask", response_model=TaskInfo)
def get_task(who: Authenticated, task_id: IdPath) -> TaskInfo:
    """One task."""
    return who.ops.tasks.get(task_id)


@router.get(
    "/tasks/{task_id}/events", operation_id="taskEvents", response_model=pages.Page[EventInfo]
)
def task_events(
    who: Authenticated, task_id: IdPath, limit: pages.Limit = 100, cursor: pages.Cursor = None
) -> pages.Page[EventInfo]:
    """A task's history, oldest first."""
    return pages.of_history(who.ops.tasks.events(task_id), limit, cursor)


@router.post("/tasks/{task_id}/cancel", operation_id="cancelTask", response_model=TaskInfo)
def cancel(who: Authenticated, task_id: IdPath) -> TaskInfo:
    """Cancel a task: one the caller enqueued, or any with manage_tasks."""
    return who.ops.tasks.cancel(task_id)


@router.post("/tasks/{task_id}/retry", operation_id="retryTask", response_model=TaskInfo)
def retry(who: Authenticated, task_id: IdPath, body: RetryBody) -> TaskInfo:
    """Retry a dead, failed or cancelled task now, with fresh attempts (a task of a run:
    409, retry the run); ``reset_steps`` forgets its recorded steps first."""
    return who.ops.tasks.retry(task_id, reset_steps=body.reset_steps)


@router.get("/queues", operation_id="listQueues", response_model=pages.Page[QueueStats])
def queues(
    who: Authenticated, limit: pages.Limit = 100, cursor: pages.Cursor = None
) -> pages.Page[QueueStats]:
    """Per queue: counts by state and the age of the oldest due task."""
    return pages.of_list(who.ops.queues.stats(), limit, cursor)


@router.get(
    "/dead-letters", operation_id="listDeadLetters", response_model=pages.Page[DeadLetterGroup]
)
def dead_letters(
    who: Authenticated, limit: pages.Limit = 100, cursor: pages.Cursor = None
) -> pages.Page[DeadLetterGroup]:
    """Dead tasks grouped by error."""
    return pages.of_list(who.ops.dead_letters.groups(), limit, cursor)


@router.post("/dead-letters/retry", operation_id="retryDeadLetters", response_model=Replayed)
def replay(who: Authenticated, body: ReplayBody) -> Replayed:
    """Retry dead tasks (those named, or all of them with ``all: true``) with fresh
    attempts."""
    replayed = who.ops.dead_letters.retry(body.task_ids, all=body.all, reset_steps=body.reset_steps)
    return Replayed(replayed=replayed)
