"""Tasks: states, priorities, the per-task policy and the records the engine moves around.

The records here are plain slotted dataclasses because they sit on the hot path
(thousands per second); the read models shown to people live in ``domain.views``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from coord.domain import bounds
from coord.domain.durations import parse_duration


class TaskState(StrEnum):
    """Where a task is in its life.

    ``failed`` means "failed an attempt and waits for its retry at ``run_at``";
    ``dead`` means out of attempts or failed fatally (the dead-letter queue).
    """

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for states a task never leaves on its own."""
        return self in _TERMINAL


_TERMINAL = frozenset({TaskState.SUCCEEDED, TaskState.DEAD, TaskState.CANCELLED})
WAITING_STATES = (TaskState.PENDING, TaskState.FAILED)


class Priority(IntEnum):
    """Claim order: higher first."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3

    @classmethod
    def parse(cls, value: str | int | Priority) -> Priority:
        """Accept a name (``"high"``), a number (0-3) or a Priority."""
        if isinstance(value, Priority):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                raise ValueError(f"invalid priority {value!r}: use 0-3") from None
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                pass
        raise ValueError(f"invalid priority {value!r}: use low, normal, high or critical")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``capacity`` tasks at once, refilled at ``per_second``."""

    capacity: float
    per_second: float

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse ``"10/s"``, ``"60/m"``, ``"1000/h"`` or ``"5/10s"``."""
        count, sep, period = text.partition("/")
        try:
            amount = float(count)
            seconds = parse_duration(period if period[:1].isdigit() else f"1{period}")
        except ValueError:
            amount, seconds = -1.0, 0.0
        if not amount <= bounds.MAX_RATE:  # NaN and Infinity too
            amount = -1.0
        if not sep or amount <= 0 or seconds <= 0:
            raise ValueError(f"invalid rate limit {text!r}: use e.g. '10/s', '60/m', '5/10s'")
        return cls(capacity=amount, per_second=amount / seconds)

    def __str__(self) -> str:
        return f"{self.capacity:g}/{self.capacity / self.per_second:g}s"


class KeyTemplate:
    """A key built from the payload, e.g. ``"tenant:{tenant_id}"``.

    Only plain ``{field}`` references are allowed (no attribute or index access), so
    a template can never reach into objects; a payload missing a field is an error.
    """

    __slots__ = ("_fields", "text")

    def __init__(self, text: str) -> None:
        fields: list[str] = []
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise ValueError(f"invalid key template {text!r}: {exc}") from None
        for _literal, name, spec, conversion in parsed:
            if name is None:
                continue
            if not name.isidentifier() or spec or conversion:
                raise ValueError(
                    f"invalid key template {text!r}: only plain {{field}} references are allowed"
                )
            fields.append(name)
        self.text = text
        self._fields = tuple(fields)

    def render(self, payload: Mapping[str, Any]) -> str:
        """Return the key for ``payload``; raise ``ValueError`` naming a missing field."""
        if not self._fields:
            return self.text
        missing = [f for f in self._fields if f not in payload]
        if missing:
            raise ValueError(f"key template {self.text!r} needs payload field(s) {missing}")
        return self.text.format_map({f: payload[f] for f in self._fields})


@dataclass(frozen=True, slots=True)
class TaskPolicy:
    """Everything the queue needs to know about a task name, shared by all its tasks.

    Policies are registered in the store by every App that declares the task, so a
    CLI or API enqueue (without the handler code) applies the same options.
    """

    name: str
    queue: str = "default"
    priority: Priority = Priority.NORMAL
    retries: int = 5
    retry_backoff: float = 1.0
    retry_backoff_max: float = 300.0
    timeout: float | None = 600.0
    heartbeat: float | None = None
    stall_after: int = 3
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    rate_limit: RateLimit | None = None
    rate_limit_key: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if not self.name or len(self.name) > 200:
            problems.append("name must be 1-200 characters")
        if not self.queue or len(self.queue) > 100:
            problems.append("queue must be 1-100 characters")
        if self.retries < 0:
            problems.append("retries must be >= 0")
        if self.retry_backoff < 0 or self.retry_backoff_max < 0:
            problems.append("retry_backoff and retry_backoff_max must be >= 0")
        if self.timeout is not None and self.timeout <= 0:
            problems.append("timeout must be > 0")
        if self.heartbeat is not None and self.heartbeat <= 0:
            problems.append("heartbeat must be > 0")
        if self.stall_after < 1:
            problems.append("stall_after must be >= 1")
        if (self.concurrency_key is None) != (self.concurrency_limit is None):
            problems.append("concurrency_key and concurrency_limit go together")
        if self.concurrency_limit is not None and self.concurrency_limit < 1:
            problems.append("concurrency_limit must be >= 1")
        if self.concurrency_key is not None:
            KeyTemplate(self.concurrency_key)
        if self.rate_limit_key is not None and self.rate_limit is None:
            problems.append("rate_limit_key needs rate_limit")
        problems += self._out_of_range()
        if problems:
            raise ValueError(f"task {self.name!r}: " + "; ".join(problems))

    def _out_of_range(self) -> list[str]:
        """What is beyond the bounds of :mod:`coord.domain.bounds` (or holds a NUL)."""
        found = []
        counts = {"retries": self.retries, "stall_after": self.stall_after}
        seconds = {"retry_backoff": self.retry_backoff, "retry_backoff_max": self.retry_backoff_max}
        if self.concurrency_limit is not None:
            counts["concurrency_limit"] = self.concurrency_limit
        for name, value in (("timeout", self.timeout), ("heartbeat", self.heartbeat)):
            if value is not None:
                seconds[name] = value
        try:
            for name, count in counts.items():
                bounds.whole(count, name, high=bounds.MAX_COUNT)
            for name, value in seconds.items():
                bounds.number(value, name, high=bounds.MAX_DURATION)
        except bounds.OutOfRange as exc:
            found.append(str(exc))
        texts = (self.name, self.queue, self.concurrency_key, self.rate_limit_key)
        if any(text is not None and "\x00" in text for text in texts):
            found.append("names and keys must not contain the NUL character (\\u0000)")
        return found

    @property
    def max_attempts(self) -> int:
        """The first attempt plus ``retries``."""
        return self.retries + 1

    @property
    def rate_key(self) -> str | None:
        """The token bucket this task draws from (shared by name when keys match)."""
        if self.rate_limit is None:
            return None
        return self.rate_limit_key or self.name


@dataclass(slots=True)
class NewTask:
    """One row to insert. ``run_at`` (epoch seconds) wins over ``delay`` when set."""

    id: str
    name: str
    queue: str
    priority: int
    payload_json: str
    key: str | None
    delay: float
    run_at: float | None
    max_attempts: int
    retry_backoff: float
    retry_backoff_max: float
    timeout: float | None
    heartbeat: float | None
    stall_after: int
    concurrency_key: str | None
    concurrency_limit: int | None
    rate_key: str | None
    # Tasks of workflow runs only: the run, the phase, where in it, what ctx shows.
    run_id: str | None = None
    phase: str | None = None
    run_step_json: str | None = None
    run_input_json: str | None = None

    @classmethod
    def of(
        cls,
        policy: TaskPolicy,
        *,
        id: str,
        payload_json: str,
        key: str | None,
        priority: int,
        queue: str | None = None,
        delay: float = 0.0,
        run_at: float | None = None,
        concurrency_key: str | None = None,
    ) -> NewTask:
        """A row of ``policy``'s task: the policy gives the retry, timeout, heartbeat
        and limit columns; ``queue`` defaults to the policy's, ``concurrency_key`` is
        the rendered key (if the policy has one)."""
        return cls(
            id=id,
            name=policy.name,
            queue=queue or policy.queue,
            priority=priority,
            payload_json=payload_json,
            key=key,
            delay=delay,
            run_at=run_at,
            max_attempts=policy.max_attempts,
            retry_backoff=policy.retry_backoff,
            retry_backoff_max=policy.retry_backoff_max,
            timeout=policy.timeout,
            heartbeat=policy.heartbeat,
            stall_after=policy.stall_after,
            concurrency_key=concurrency_key,
            concurrency_limit=policy.concurrency_limit,
            rate_key=policy.rate_key,
        )


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    """The id for one requested task, and whether this call created it."""

    id: str
    created: bool


@dataclass(slots=True)
class ClaimedTask:
    """A task leased to a worker: its fencing token is ``(id, attempt, owner)``."""

    id: str
    name: str
    queue: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    retry_backoff: float
    retry_backoff_max: float
    timeout: float | None
    heartbeat: float | None
    stall_after: int
    checkpoint: Any = None
    last_error: dict[str, Any] | None = None  # how the previous attempt failed
    run_id: str | None = None  # tasks of workflow runs: the run, phase, step, context
    phase: str | None = None
    run_step: dict[str, Any] | None = None
    run_input: dict[str, Any] | None = None


@dataclass(slots=True)
class Usage:
    """Resources a task charged: tokens, micro-dollars and tool seconds."""

    tokens_in: int = 0
    tokens_out: int = 0
    usd_micros: int = 0
    tool_seconds: float = 0.0

    def add(self, other: Usage) -> None:
        """Accumulate ``other`` into this usage."""
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.usd_micros += other.usd_micros
        self.tool_seconds += other.tool_seconds

    def take(self) -> Usage:
        """Return the accumulated usage and reset this one to zero."""
        taken = Usage(self.tokens_in, self.tokens_out, self.usd_micros, self.tool_seconds)
        self.tokens_in = self.tokens_out = self.usd_micros = 0
        self.tool_seconds = 0.0
        return taken

    def __bool__(self) -> bool:
        return bool(self.tokens_in or self.tokens_out or self.usd_micros or self.tool_seconds)


@dataclass(slots=True)
class Renewal:
    """A lease renewal for one running task, with any heartbeat and usage since the last."""

    task_id: str
    attempt: int
    beat: bool = False
    progress: float | None = None
    message: str | None = None
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class Outcome:
    """The end of one attempt: the task's next state, written with its event."""

    task_id: str
    attempt: int
    state: TaskState
    topic: str
    result_json: str | None = None
    error_json: str | None = None
    delay: float = 0.0
    extra_attempts: int = 0
    event_json: str | None = None
    usage: Usage = field(default_factory=Usage)


def policy_to_dict(policy: TaskPolicy) -> dict[str, Any]:
    """A policy as JSON data (what the store keeps for enqueues by name)."""
    return {
        "name": policy.name,
        "queue": policy.queue,
        "priority": int(policy.priority),
        "retries": policy.retries,
        "retry_backoff": policy.retry_backoff,
        "retry_backoff_max": policy.retry_backoff_max,
        "timeout": policy.timeout,
        "heartbeat": policy.heartbeat,
        "stall_after": policy.stall_after,
        "concurrency_key": policy.concurrency_key,
        "concurrency_limit": policy.concurrency_limit,
        "rate_limit": None
        if policy.rate_limit is None
        else {"capacity": policy.rate_limit.capacity, "per_second": policy.rate_limit.per_second},
        "rate_limit_key": policy.rate_limit_key,
    }


def policy_from_dict(data: Mapping[str, Any]) -> TaskPolicy:
    """Rebuild a policy from :func:`policy_to_dict` output."""
    fields = dict(data)
    fields["priority"] = Priority(fields["priority"])
    rate = fields.get("rate_limit")
    fields["rate_limit"] = None if rate is None else RateLimit(**rate)
    return TaskPolicy(**fields)
