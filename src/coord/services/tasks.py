"""Task use cases: enqueue by name, inspect, cancel, retry, queues and dead letters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from coord.domain import content
from coord.domain.durations import parse_duration
from coord.domain.events import TASK_ENQUEUED
from coord.domain.steps import StepReset, parse_step_reset, step_name
from coord.domain.tasks import EnqueueResult, Priority, TaskState
from coord.domain.views import DeadLetterGroup, EventInfo, QueueStats, TaskInfo
from coord.errors import Conflict, Forbidden, InvalidInput, NotFound, UnknownTask
from coord.ports.store import Store, TaskFilter
from coord.runtime.queue import EnqueueOptions, build_tasks
from coord.services import access
from coord.services.access import Principal

MAX_LIST_LIMIT = 10_000


def enqueue_options(
    *,
    priority: str | int | None = None,
    delay: str | float | timedelta | None = None,
    run_at: datetime | None = None,
    queue: str | None = None,
) -> EnqueueOptions:
    """Validate per-call enqueue options given as plain values."""
    try:
        parsed_priority = None if priority is None else Priority.parse(priority)
    except ValueError as exc:
        raise InvalidInput(f"priority: {exc}", field="priority") from None
    try:
        parsed_delay = 0.0 if delay is None else parse_duration(delay)
    except ValueError as exc:
        raise InvalidInput(f"delay: {exc}", field="delay") from None
    return EnqueueOptions(priority=parsed_priority, delay=parsed_delay, run_at=run_at, queue=queue)


def enqueue_by_name(
    store: Store,
    name: str,
    payloads: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str | None] | None = None,
    options: EnqueueOptions | None = None,
    max_payload_bytes: int,
    actor: str | None = None,
) -> list[EnqueueResult]:
    """Enqueue tasks of a registered name (its policy comes from the store), all in one
    transaction."""
    if not payloads:
        raise InvalidInput("nothing to enqueue: no payloads")
    _texts(task=name)
    policy = store.get_policy(name)
    if policy is None:
        raise UnknownTask(
            f"task {name!r} is not registered: start a worker (or any App) that declares "
            "it with @app.task, then enqueue again",
            task=name,
        )
    rows = build_tasks(
        policy,
        payloads,
        list(keys) if keys is not None else [None] * len(payloads),
        options or EnqueueOptions(),
        max_payload_bytes=max_payload_bytes,
    )
    return store.enqueue(rows, actor)


def get_task(store: Store, task_id: str) -> TaskInfo:
    """One task; ``NotFound`` if there is none."""
    info = store.get_task(_task_id(task_id))
    if info is None:
        raise NotFound(f"no task with id {task_id}", task_id=task_id)
    return info


def list_tasks(
    store: Store,
    *,
    state: TaskState | None = None,
    queue: str | None = None,
    name: str | None = None,
    limit: int = 50,
    before_id: str | None = None,
) -> list[TaskInfo]:
    """Tasks, newest first (only those older than task ``before_id`` when given)."""
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST_LIMIT}")
    _texts(queue=queue, name=name)
    before = None if before_id is None else _task_id(before_id)
    return store.list_tasks(
        TaskFilter(state=state, queue=queue, name=name, limit=limit, before_id=before)
    )


def task_events(store: Store, task_id: str) -> list[EventInfo]:
    """A task's history, oldest first."""
    get_task(store, task_id)
    return store.task_events(task_id)


def cancel_task(store: Store, task_id: str, *, actor: str | None = None) -> TaskInfo:
    """Cancel a task that has not finished and return it. A running task's worker is
    told at its next lease renewal and its handler is stopped.

    ``NotFound`` if there is no such task; ``Conflict`` if it had already finished
    (succeeded, dead, or cancelled before): then nothing changes.
    """
    # The store's conditional UPDATE decides: of two concurrent cancels one wins.
    cancelled = store.cancel(_task_id(task_id), actor)
    info = get_task(store, task_id)
    if cancelled:
        return info
    raise Conflict(
        f"task {task_id} is already {info.state.value}: nothing to cancel",
        task_id=task_id,
        state=info.state.value,
    )


def cancel_task_as(store: Store, task_id: str, principal: Principal) -> TaskInfo:
    """:func:`cancel_task` as ``principal``: any task with ``manage_tasks``, else
    one it enqueued (with ``enqueue_task``). Another agent's task is refused (403)
    to a caller who may read tasks, and answers as an unknown id (404) to one who
    may not, so its id tells nothing."""
    if not principal.can("manage_tasks"):
        access.require(principal, "enqueue_task")
        if enqueued_by(store, task_id) != principal.agent:
            if not principal.can("read_tasks"):
                raise NotFound(f"no task with id {task_id}", task_id=task_id)
            raise Forbidden(
                f"task {task_id} was enqueued by another agent: cancelling it needs "
                "the manage_tasks permission",
                permission="manage_tasks",
            )
    return cancel_task(store, task_id, actor=principal.agent)


def queue_stats(store: Store) -> list[QueueStats]:
    """Per queue: counts by state and the age of the oldest due task."""
    return store.queue_stats()


def dead_letters(store: Store) -> list[DeadLetterGroup]:
    """Dead tasks grouped by error."""
    return store.dead_letter_groups()


# What `retry_task` takes: work that ended without succeeding, or waits for a retry.
RETRYABLE = (TaskState.DEAD, TaskState.FAILED, TaskState.CANCELLED)
StepsToReset = bool | Sequence[str]


def replay_dead(
    store: Store,
    task_ids: Sequence[str] | None,
    *,
    reset_steps: StepsToReset = False,
    actor: str | None = None,
) -> list[str]:
    """Retry dead tasks (all of them when ``task_ids`` is None) with fresh attempts.

    ``reset_steps`` forgets recorded steps first, so that they run again: True for
    all of them, or a list of step names (see :func:`retry_task`). Naming a task
    that does not exist or is not dead, or a step none of the named tasks recorded,
    is an error, and then nothing is replayed.
    """
    reset = _step_reset(reset_steps)
    if task_ids is not None:
        if not task_ids:
            raise InvalidInput("name at least one task id, or replay all")
        infos = [get_task(store, task_id) for task_id in task_ids]
        for info in infos:
            if info.state is not TaskState.DEAD:
                raise InvalidInput(
                    f"task {info.id} is {info.state.value}, not dead", task_id=info.id
                )
        _check_steps_known(store, [info.id for info in infos], reset)
        task_ids = [info.id for info in infos]
    return store.retry_tasks(task_ids, [TaskState.DEAD], reset, actor)


def retry_task(
    store: Store, task_id: str, *, reset_steps: StepsToReset = False, actor: str | None = None
) -> TaskInfo:
    """Retry one task now, with a fresh set of attempts, and return it (pending).

    The task must be dead, failed (waiting for its next attempt) or cancelled, and
    not a phase of a run (retry the run: it makes new tasks). ``reset_steps``
    deletes the recorded results of its memoized steps, in the same transaction,
    so that they run again: True for all of them, or step names (each name resets
    every call of that step: ``fetch``, ``fetch#2``...); a reset also clears the
    task's checkpoint, which may hold what those steps returned. ``Conflict`` if
    the task cannot be retried; ``InvalidInput`` for a step it never recorded.
    """
    reset = _step_reset(reset_steps)
    info = get_task(store, task_id)
    if info.run_id is not None:
        raise Conflict(
            f"task {info.id} is a task of run {info.run_id}: retry the run instead "
            f"(`coord run retry {info.run_id}`), which runs its failed phases again",
            task_id=info.id,
            run_id=info.run_id,
        )
    _check_retryable(info)
    _check_steps_known(store, [info.id], reset)
    if not store.retry_tasks([info.id], RETRYABLE, reset, actor):
        _check_retryable(get_task(store, info.id))  # it changed meanwhile: say how
    return get_task(store, info.id)


def _check_retryable(info: TaskInfo) -> None:
    if info.state not in RETRYABLE:
        raise Conflict(
            f"task {info.id} is {info.state.value}: only a dead, failed or cancelled task "
            "can be retried",
            task_id=info.id,
            state=info.state.value,
        )


def _step_reset(value: StepsToReset) -> StepReset | None:
    try:
        return parse_step_reset(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="reset_steps") from None


def _check_steps_known(store: Store, task_ids: Sequence[str], reset: StepReset | None) -> None:
    """Refuse step names none of the tasks recorded: a typo would reset nothing."""
    if reset is None or reset.names is None:
        return
    recorded = [key for task_id in task_ids for key in store.load_steps(task_id)]
    unknown = reset.unknown(recorded)
    if unknown:
        known = ", ".join(sorted({step_name(k) for k in recorded})) or "none"
        raise InvalidInput(
            f"reset_steps: no step {', '.join(map(repr, unknown))} was recorded by "
            f"{'task ' + task_ids[0] if len(task_ids) == 1 else 'these tasks'} "
            f"(recorded steps: {known})",
            field="reset_steps",
            steps=unknown,
        )


def _texts(**values: str | None) -> None:
    try:
        content.check_texts(values)
    except content.ContentInvalid as exc:
        raise InvalidInput.of(exc) from None


def _task_id(task_id: str) -> str:
    """Task ids are UUIDs; anything else cannot exist (and would upset PostgreSQL)."""
    import uuid

    try:
        return str(uuid.UUID(task_id))
    except ValueError:
        raise NotFound(f"no task with id {task_id!r} (not a task id)", task_id=task_id) from None


def enqueued_by(store: Store, task_id: str) -> str | None:
    """Who enqueued a task (the actor of its ``task.enqueued`` event), if anyone said."""
    for event in task_events(store, task_id):
        if event.topic == TASK_ENQUEUED:
            return event.actor
    return None
