"""Turning database rows into read models, shared by both stores."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from coord.domain import codec
from coord.domain.messages import DeliveryState
from coord.domain.tasks import Priority, TaskState
from coord.domain.views import (
    AgentInfo,
    DeadLetterGroup,
    DeliveryInfo,
    EventInfo,
    InboxMessage,
    MessageInfo,
    TaskInfo,
    TaskUsage,
)

TASK_COLUMNS = (
    "id, name, queue, state, priority, payload, idempotency_key, attempt, max_attempts, "
    "run_at, created_at, started_at, finished_at, heartbeat_at, lease_expires_at, owner, "
    "progress, progress_message, checkpoint, result, error, tokens_in, tokens_out, "
    "usd_micros, tool_seconds, concurrency_key, rate_key, run_id"
)

# A delivery past its TTL reads as expired at once; the expiry sweep (inbox listings,
# the worker) later writes that state and its message.expired event. {now} is filled
# with the dialect's clock when the queries are loaded.
_PAST_TTL = "d.state IN ('delivered', 'read') AND d.expires_at <= {now}"
DELIVERY_STATE = f"CASE WHEN {_PAST_TTL} THEN 'expired' ELSE d.state END AS state"
INBOX_COLUMNS = (
    f"d.agent, d.seq, {DELIVERY_STATE}, d.delivered_at, d.read_at, d.acked_at, m.id, "
    "m.sender, m.address, m.subject, m.body, m.priority, m.thread_id, m.reply_to, "
    "m.created_at, d.expires_at"
)
DELIVERY_COLUMNS = (
    f"d.message_id, d.agent, d.seq, {DELIVERY_STATE}, d.delivered_at, d.read_at, "
    f"d.acked_at, coalesce(d.expired_at, CASE WHEN {_PAST_TTL} THEN d.expires_at END) "
    "AS expired_at"
)
MESSAGE_COLUMNS = (
    "id, sender, address, subject, body, priority, thread_id, reply_to, idempotency_key, "
    "created_at, expires_at"
)

Row = Mapping[str, Any]


def _text(value: Any) -> str | None:
    """Ids come back as text (SQLite) or UUID text (PostgreSQL's loader); None stays."""
    return None if value is None else str(value)


def priority_name(value: int) -> str:
    """``2`` -> ``"high"``."""
    return Priority(value).name.lower()


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
            priority=priority_name(row["priority"]),
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
            run_id=None if row["run_id"] is None else str(row["run_id"]),
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
            message_id=_text(row.get("message_id")),
            run_id=_text(row.get("run_id")),
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

    def _at(self, value: Any) -> datetime:
        when = self.when(value)
        if when is None:
            raise ValueError("a required time is missing")
        return when

    def agent(self, row: Row, topics: list[str]) -> AgentInfo:
        """An agent row (``list_agents``) with its topics."""
        return AgentInfo(
            name=row["name"],
            role=row["role"],
            domains=list(self.json_value(row["domains"])),
            description=row["description"],
            human=bool(row["human"]),
            topics=topics,
            created_at=self._at(row["created_at"]),
            last_seen_at=self.when(row["last_seen_at"]),
        )

    def inbox_message(self, row: Row) -> InboxMessage:
        """A row selected with ``INBOX_COLUMNS``."""
        when = self.when
        return InboxMessage(
            id=str(row["id"]),
            agent=row["agent"],
            seq=row["seq"],
            state=DeliveryState(row["state"]),
            sender=row["sender"],
            to=row["address"],
            subject=row["subject"],
            body=self.json_value(row["body"]),
            priority=priority_name(row["priority"]),
            thread_id=str(row["thread_id"]),
            reply_to=_text(row["reply_to"]),
            created_at=self._at(row["created_at"]),
            expires_at=when(row["expires_at"]),
            delivered_at=self._at(row["delivered_at"]),
            read_at=when(row["read_at"]),
            acked_at=when(row["acked_at"]),
        )

    def delivery(self, row: Row) -> DeliveryInfo:
        """A row of ``deliveries_of``."""
        when = self.when
        return DeliveryInfo(
            agent=row["agent"],
            seq=row["seq"],
            state=DeliveryState(row["state"]),
            delivered_at=self._at(row["delivered_at"]),
            read_at=when(row["read_at"]),
            acked_at=when(row["acked_at"]),
            expired_at=when(row["expired_at"]),
        )

    def message(self, row: Row, deliveries: list[DeliveryInfo]) -> MessageInfo:
        """A row selected with ``MESSAGE_COLUMNS`` and its deliveries."""
        return MessageInfo(
            id=str(row["id"]),
            sender=row["sender"],
            to=row["address"],
            subject=row["subject"],
            body=self.json_value(row["body"]),
            priority=priority_name(row["priority"]),
            thread_id=str(row["thread_id"]),
            reply_to=_text(row["reply_to"]),
            key=row["idempotency_key"],
            created_at=self._at(row["created_at"]),
            expires_at=self.when(row["expires_at"]),
            deliveries=deliveries,
        )

    def messages(
        self, rows: list[dict[str, Any]], delivery_rows: list[dict[str, Any]]
    ) -> list[MessageInfo]:
        """Message rows with their delivery rows (``deliveries_of``), in row order."""
        by_message: dict[str, list[DeliveryInfo]] = {}
        for d in delivery_rows:
            by_message.setdefault(str(d["message_id"]), []).append(self.delivery(d))
        return [self.message(r, by_message.get(str(r["id"]), [])) for r in rows]
