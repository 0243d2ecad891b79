"""Task use cases: enqueue by name, inspect, cancel, queues and dead letters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from coord.domain import content
from coord.domain.durations import parse_duration
from coord.domain.events import TASK_ENQUEUED
from coord.domain.tasks import EnqueueResult, Priority, TaskState
from coord.domain.views import DeadLetterGroup, EventInfo, QueueStats, TaskInfo
from coord.errors import Conflict, InvalidInput, NotFound, UnknownTask
from coord.ports.store import Store, TaskFilter
from coord.runtime.queue import EnqueueOptions, build_tasks

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


def queue_stats(store: Store) -> list[QueueStats]:
    """Per queue: counts by state and the age of the oldest due task."""
    return store.queue_stats()


def dead_letters(store: Store) -> list[DeadLetterGroup]:
    """Dead tasks grouped by error."""
    return store.dead_letter_groups()


def replay_dead(
    store: Store, task_ids: Sequence[str] | None, *, actor: str | None = None
) -> list[str]:
    """Retry dead tasks (all of them when ``task_ids`` is None) with fresh attempts.

    Naming a task that does not exist or is not dead is an error, and then nothing
    is replayed.
    """
    if task_ids is not None:
        if not task_ids:
            raise InvalidInput("name at least one task id, or replay all")
        for task_id in task_ids:
            info = get_task(store, task_id)
            if info.state is not TaskState.DEAD:
                raise InvalidInput(
                    f"task {task_id} is {info.state.value}, not dead", task_id=task_id
                )
    return store.replay_dead(task_ids, actor)


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
