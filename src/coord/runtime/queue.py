"""Turning "enqueue this task with these options" into rows for the store."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coord.domain import content
from coord.domain.ids import new_ids
from coord.domain.tasks import KeyTemplate, NewTask, Priority, TaskPolicy
from coord.errors import InvalidInput

PayloadCheck = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class EnqueueOptions:
    """Per-call options that override the task's policy."""

    priority: Priority | None = None
    delay: float = 0.0
    run_at: datetime | None = None
    queue: str | None = None

    def __post_init__(self) -> None:
        if self.delay < 0:
            raise InvalidInput(f"delay must be >= 0 seconds (got {self.delay})", field="delay")
        if self.run_at is not None and self.run_at.tzinfo is None:
            raise InvalidInput(
                "run_at must be timezone-aware (e.g. datetime.now(UTC))", field="run_at"
            )
        if self.queue is not None and not 0 < len(self.queue) <= 100:
            raise InvalidInput("queue must be 1-100 characters", field="queue")
        if self.queue is not None:
            _text(self.queue, "queue")


def build_tasks(
    policy: TaskPolicy,
    payloads: Sequence[Mapping[str, Any]],
    keys: Sequence[str | None],
    options: EnqueueOptions,
    *,
    max_payload_bytes: int,
    check: PayloadCheck | None = None,
) -> list[NewTask]:
    """Validate payloads and build the rows to insert, one per payload.

    Raises :class:`InvalidInput` naming the item, and builds nothing, when a payload
    is not a JSON object, is too large, does not fit the handler, or lacks a field
    the concurrency key needs.
    """
    if len(keys) != len(payloads):
        raise InvalidInput(f"{len(keys)} keys for {len(payloads)} payloads")
    template = None if policy.concurrency_key is None else KeyTemplate(policy.concurrency_key)
    priority = int(options.priority if options.priority is not None else policy.priority)
    queue = options.queue or policy.queue
    run_at = None if options.run_at is None else options.run_at.timestamp()
    ids = new_ids(len(payloads))
    tasks = []
    for index, (task_id, payload, key) in enumerate(zip(ids, payloads, keys, strict=True)):
        many = len(payloads) > 1
        where = f"task {policy.name!r}" + (f" item {index}" if many else "")
        item = f"items.{index}." if many else ""
        payload_json = _encode_payload(payload, where, f"{item}payload", max_payload_bytes)
        if key is not None and not 0 < len(key) <= 500:
            raise InvalidInput(f"{where}: key must be 1-500 characters", field=f"{item}key")
        if key is not None:
            _text(key, f"{item}key")
        try:
            if check is not None:
                check(payload)
            concurrency_key = None if template is None else template.render(payload)
        except ValueError as exc:
            raise InvalidInput(f"{where}: {exc}") from None
        tasks.append(
            NewTask.of(
                policy,
                id=task_id,
                payload_json=payload_json,
                key=key,
                priority=priority,
                queue=queue,
                delay=options.delay,
                run_at=run_at,
                concurrency_key=concurrency_key,
            )
        )
    return tasks


def _text(value: str, field: str) -> None:
    try:
        content.check_text(value, field)
    except content.ContentInvalid as exc:
        raise InvalidInput.of(exc) from None


def _encode_payload(payload: Mapping[str, Any], where: str, field: str, max_bytes: int) -> str:
    if not isinstance(payload, Mapping):
        raise InvalidInput(
            f"{where}: payload must be a JSON object (dict), got {type(payload).__name__}",
            field=field,
        )
    try:
        text = content.encode(payload, field)
    except content.ContentInvalid as exc:
        raise InvalidInput(f"{where}: {exc}", field=exc.field) from None
    if len(text) > max_bytes:
        raise InvalidInput(
            f"{where}: payload is {len(text)} bytes, over the limit of {max_bytes} "
            "(COORD_MAX_PAYLOAD_BYTES)",
            field=field,
        )
    return text
