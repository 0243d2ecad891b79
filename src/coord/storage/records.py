"""Turning database rows into read models, shared by both stores."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from coord.domain import codec
from coord.domain.tasks import Priority, TaskState
from coord.domain.views import DeadLetterGroup, EventInfo, TaskInfo, TaskUsage

TASK_COLUMNS = (
    "id, name, queue, state, priority, payload, idempotency_key, attempt, max_attempts, "
    "run_at, created_at, started_at, finished_at, heartbeat_at, lease_expires_at, owner, "
    "progress, progress_message, checkpoint, result, error, tokens_in, tokens_out, "
    "usd_micros, tool_seconds, concurrency_key, rate_key"
)

Row = Mapping[str, Any]


def epoch_to_datetime(value: float | None) -> datetime | None:
    """SQLite keeps times as epoch seconds."""
    return None if value is None else datetime.fromtimestamp(value, UTC)


def json_text_to_value(value: str | None) -> Any:
    """SQLite keeps JSON as text."""
    return None if value is None else codec.loads(value)


def _same(value: Any) -> Any:
    return value


class RowReader:
    """Reads rows of one dialect: how it stores JSON and times."""

    def __init__(
        self,
        json_value: Callable[[Any], Any] = _same,
        when: Callable[[Any], datetime | None] = _same,
    ) -> None:
        self.json_value = json_value
        self.when = when

    def task(self, row: Row) -> TaskInfo:
        """A task row (selected with ``TASK_COLUMNS``) as a :class:`TaskInfo`."""
        when, js = self.when, self.json_value
        run_at, created_at = when(row["run_at"]), when(row["created_at"])
        if run_at is None or created_at is None:
            raise ValueError(f"task row {row['id']} lacks run_at or created_at")
        return TaskInfo(
            id=str(row["id"]),
            name=row["name"],
            queue=row["queue"],
            state=TaskState(row["state"]),
            priority=Priority(row["priority"]).name.lower(),
            payload=js(row["payload"]),
            key=row["idempotency_key"],
            attempt=row["attempt"],
            max_attempts=row["max_attempts"],
            run_at=run_at,
            created_at=created_at,
            started_at=when(row["started_at"]),
            finished_at=when(row["finished_at"]),
            heartbeat_at=when(row["heartbeat_at"]),
            lease_expires_at=when(row["lease_expires_at"]),
            owner=row["owner"],
            progress=row["progress"],
            progress_message=row["progress_message"],
            checkpoint=js(row["checkpoint"]),
            result=js(row["result"]),
            error=js(row["error"]),
            usage=TaskUsage(
                tokens_in=row["tokens_in"],
                tokens_out=row["tokens_out"],
                usd=row["usd_micros"] / 1_000_000,
                tool_seconds=row["tool_seconds"],
            ),
            concurrency_key=row["concurrency_key"],
            rate_key=row["rate_key"],
        )

    def event(self, row: Row) -> EventInfo:
        """An event row as an :class:`EventInfo`."""
        created_at = self.when(row["created_at"])
        assert created_at is not None
        return EventInfo(
            id=row["id"],
            topic=row["topic"],
            task_id=None if row["task_id"] is None else str(row["task_id"]),
            actor=row["actor"],
            data=self.json_value(row["data"]),
            created_at=created_at,
        )

    def dead_letter_group(self, row: Row) -> DeadLetterGroup:
        """A row of the dead-letter grouping query."""
        first, last = self.when(row["first_seen"]), self.when(row["last_seen"])
        if first is None or last is None:
            raise ValueError("a dead-letter group lacks its first or last time")
        names = row["task_names"]
        return DeadLetterGroup(
            error_type=row["error_type"] or "unknown",
            error_message=row["error_message"] or "",
            count=row["count"],
            first_seen=first,
            last_seen=last,
            sample_task_id=str(row["sample_task_id"]),
            task_names=sorted(set(names.split(",") if isinstance(names, str) else names)),
        )
