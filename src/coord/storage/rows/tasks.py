"""The task queue's rows, shared by both stores: idempotent enqueue resolution, the
policy columns of a new task's row, the rows a claim admits under limits, queue stats
(their events are built in :mod:`coord.storage.rows.events`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from coord.domain import codec
from coord.domain.limits import Candidate
from coord.domain.steps import StepReset
from coord.domain.tasks import EnqueueResult, NewTask
from coord.domain.views import QueueStats
from coord.errors import IdempotencyConflict


def resolve_enqueue(
    tasks: Sequence[NewTask],
    inserted: set[str],
    existing: Mapping[tuple[str, str], tuple[str, Any]],
) -> list[EnqueueResult]:
    """Match each requested task to the row that holds it.

    ``existing`` maps ``(name, key)`` to ``(id, payload)`` for keyed tasks that were
    not inserted. A same-key task with another payload is a conflict: the caller's
    transaction must roll back so nothing of the batch is written.
    """
    results = []
    for task in tasks:
        if task.id in inserted:
            results.append(EnqueueResult(task.id, created=True))
            continue
        assert task.key is not None, "only keyed tasks can be skipped"
        found_id, found_payload = existing[(task.name, task.key)]
        if found_payload != codec.loads(task.payload_json):
            raise IdempotencyConflict(
                f"task {task.name!r} with key {task.key!r} exists already ({found_id}) "
                "with a different payload",
                task_id=found_id,
                key=task.key,
                name=task.name,
            )
        results.append(EnqueueResult(found_id, created=False))
    return results


PolicyColumns = tuple[
    int, float, float, float | None, float | None, int, str | None, int | None, str | None
]


def policy_columns(task: NewTask) -> PolicyColumns:
    """The policy part of a new task's row, in the order both dialects' enqueue
    statements take it: max_attempts, retry_backoff, retry_backoff_max, timeout,
    heartbeat, stall_after, concurrency_key, concurrency_limit, rate_key."""
    return (
        task.max_attempts,
        task.retry_backoff,
        task.retry_backoff_max,
        task.timeout,
        task.heartbeat,
        task.stall_after,
        task.concurrency_key,
        task.concurrency_limit,
        task.rate_key,
    )


def steps_to_reset(
    reset: StepReset | None, recorded: Iterable[tuple[str, str]]
) -> dict[str, list[str]]:
    """Of the ``(task_id, step key)`` records of retried tasks, those ``reset``
    deletes, by task (nothing without a reset)."""
    chosen: dict[str, list[str]] = {}
    if reset is not None:
        for task_id, key in recorded:
            if reset.matches(key):
                chosen.setdefault(task_id, []).append(key)
    return {task_id: sorted(keys) for task_id, keys in chosen.items()}


def limited_keys(candidates: Sequence[Candidate]) -> tuple[list[str], list[str]]:
    """The sorted concurrency keys and rate keys the candidates need."""
    keys = sorted({c.concurrency_key for c in candidates if c.concurrency_key is not None})
    rates = sorted({c.rate_key for c in candidates if c.rate_key is not None})
    return keys, rates


def is_limited(candidate: Candidate) -> bool:
    """True if the candidate needs admission."""
    return candidate.concurrency_key is not None or candidate.rate_key is not None


def queue_stats(
    counts: Iterable[tuple[str, str, int]], oldest_due_ages: Iterable[tuple[str, float]]
) -> list[QueueStats]:
    """Assemble per-queue stats from ``(queue, state, count)`` and ``(queue, age)`` rows."""
    per_queue: dict[str, dict[str, Any]] = {}
    for queue, state, count in counts:
        per_queue.setdefault(queue, {"queue": queue})[state] = count
    for queue, age in oldest_due_ages:
        per_queue.setdefault(queue, {"queue": queue})["oldest_pending_age_s"] = age
    return [QueueStats(**per_queue[q]) for q in sorted(per_queue)]
