"""The task queue's rows, shared by both stores: idempotent enqueue resolution, the
policy columns of a new task's row, the events each write produces, the rows a claim
admits under limits, queue stats."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from coord.domain import codec, events, sealed_content
from coord.domain.limits import Candidate
from coord.domain.steps import StepReset
from coord.domain.tasks import EnqueueResult, NewTask, Outcome, Renewal, TaskState
from coord.domain.views import QueueStats
from coord.errors import IdempotencyConflict

# (topic, task_id, actor, data_json)
EventRow = tuple[str, str, str | None, str | None]


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


def enqueued_events(tasks: Iterable[NewTask], actor: str | None) -> list[EventRow]:
    """One ``task.enqueued`` event per inserted task, with its payload's hash."""
    return [(events.TASK_ENQUEUED, t.id, actor, enqueued_data(t)) for t in tasks]


def enqueued_data(task: NewTask) -> str:
    """The data of a task's ``task.enqueued`` event: the hash of its payload, which
    the ledger seals with the event (see :mod:`coord.domain.sealed_content`)."""
    return codec.dumps(
        {sealed_content.PAYLOAD_SHA256: sealed_content.json_digest(task.payload_json)}
    )


def checkpointed_data(data_json: str) -> str:
    """The data of a ``task.checkpointed`` event: the hash of the checkpoint."""
    return codec.dumps({sealed_content.CHECKPOINT_SHA256: sealed_content.json_digest(data_json)})


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


def replayed_events(
    ids: Iterable[str],
    reset: StepReset | None,
    deleted: Mapping[str, list[str]],
    actor: str | None,
) -> list[EventRow]:
    """One ``task.replayed`` event per retried task; with a reset, its data names the
    step records deleted (and says the checkpoint was cleared)."""
    rows: list[EventRow] = []
    for task_id in ids:
        data = None
        if reset is not None:
            data = codec.dumps({"steps_reset": deleted.get(task_id, []), "checkpoint_reset": True})
        rows.append((events.TASK_REPLAYED, task_id, actor, data))
    return rows


def started_event(task_id: str, attempt: int, owner: str) -> EventRow:
    """The ``task.started`` event of a claim."""
    return (events.TASK_STARTED, task_id, owner, f'{{"attempt":{attempt}}}')


def progress_events(
    renewals: Sequence[Renewal],
    accepted: set[str],
    owner: str,
    of_runs: Mapping[str, tuple[str, str]],
) -> list[tuple[str, str, str | None, str, str]]:
    """``(topic, task_id, run_id, actor, data)`` for accepted heartbeats that reported
    progress or a message: ``task.progress``, or ``phase.progress`` (with the phase)
    for a task of a run (``of_runs`` maps those to their run and phase)."""
    rows = []
    for r in renewals:
        if r.task_id in accepted and r.beat and (r.progress is not None or r.message):
            data: dict[str, Any] = {"progress": r.progress, "message": r.message}
            run_id, phase = of_runs.get(r.task_id, (None, None))
            topic = events.TASK_PROGRESS if run_id is None else events.PHASE_PROGRESS
            if phase is not None:
                data = {"phase": phase, **data}
            rows.append((topic, r.task_id, run_id, owner, codec.dumps(data)))
    return rows


def outcome_events(outcomes: Sequence[Outcome], accepted: set[str], owner: str) -> list[EventRow]:
    """The event of every accepted outcome."""
    return [(o.topic, o.task_id, owner, o.event_json) for o in outcomes if o.task_id in accepted]


def limited_keys(candidates: Sequence[Candidate]) -> tuple[list[str], list[str]]:
    """The sorted concurrency keys and rate keys the candidates need."""
    keys = sorted({c.concurrency_key for c in candidates if c.concurrency_key is not None})
    rates = sorted({c.rate_key for c in candidates if c.rate_key is not None})
    return keys, rates


def is_limited(candidate: Candidate) -> bool:
    """True if the candidate needs admission."""
    return candidate.concurrency_key is not None or candidate.rate_key is not None


def recovery_events(rows: Sequence[tuple[Any, ...]]) -> list[EventRow]:
    """``task.lease_expired`` for each recovered ``(id, state, attempt, previous_owner)``,
    plus ``task.dead`` when it was the last attempt."""
    out: list[EventRow] = []
    for task_id, state, attempt, previous_owner in rows:
        data = codec.dumps({"attempt": attempt, "owner": previous_owner, "next": state})
        out.append((events.TASK_LEASE_EXPIRED, task_id, "coord:recovery", data))
        if state == TaskState.DEAD:
            out.append((events.TASK_DEAD, task_id, "coord:recovery", data))
    return out


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
