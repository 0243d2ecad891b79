"""Read models returned by services to the CLI, the API and the dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from coord.domain.messages import DeliveryState
from coord.domain.tasks import TaskState


class _View(BaseModel):
    # defer_build: a model's validators are built when it is first used, not when its
    # module is imported; a command that shows tasks should not pay for every view.
    model_config = ConfigDict(frozen=True, defer_build=True)


class TaskUsage(_View):
    """What a task charged over all its attempts."""

    tokens_in: int = 0
    tokens_out: int = 0
    usd: float = 0.0
    tool_seconds: float = 0.0


class TaskInfo(_View):
    """One task as people see it."""

    id: str
    name: str
    queue: str
    state: TaskState
    priority: str
    payload: dict[str, Any]
    key: str | None
    attempt: int
    max_attempts: int
    run_at: datetime
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    lease_expires_at: datetime | None
    owner: str | None
    progress: float | None
    progress_message: str | None
    checkpoint: Any
    result: Any
    error: dict[str, Any] | None
    usage: TaskUsage
    concurrency_key: str | None
    rate_key: str | None
    run_id: str | None = None  # the run whose phase it is


class EventInfo(_View):
    """One recorded state change."""

    id: int
    topic: str
    task_id: str | None
    actor: str | None
    data: dict[str, Any] | None
    created_at: datetime
    message_id: str | None = None
    run_id: str | None = None


class QueueStats(_View):
    """Counts per state for one queue, and the age of its oldest due pending task."""

    queue: str
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    dead: int = 0
    cancelled: int = 0
    oldest_pending_age_s: float | None = None


class DeadLetterGroup(_View):
    """Dead tasks that failed with the same error."""

    error_type: str
    error_message: str
    count: int
    first_seen: datetime
    last_seen: datetime
    sample_task_id: str
    task_names: list[str]


class AgentInfo(_View):
    """A registered agent (AI or human)."""

    name: str
    role: str | None
    domains: list[str]
    description: str | None
    human: bool
    topics: list[str]
    created_at: datetime
    last_seen_at: datetime | None


class DeliveryInfo(_View):
    """One recipient's copy of a message: what the sender sees of it."""

    agent: str
    seq: int
    state: DeliveryState
    delivered_at: datetime
    read_at: datetime | None
    acked_at: datetime | None
    expired_at: datetime | None


class MessageInfo(_View):
    """A message with the state of its delivery to each recipient."""

    id: str
    sender: str
    to: str
    subject: str
    body: Any
    priority: str
    thread_id: str
    reply_to: str | None
    key: str | None
    created_at: datetime
    expires_at: datetime | None
    deliveries: list[DeliveryInfo]


class InboxMessage(_View):
    """A message as one recipient sees it in its inbox."""

    id: str
    agent: str
    seq: int
    state: DeliveryState
    sender: str
    to: str
    subject: str
    body: Any
    priority: str
    thread_id: str
    reply_to: str | None
    created_at: datetime
    expires_at: datetime | None
    delivered_at: datetime
    read_at: datetime | None
    acked_at: datetime | None
