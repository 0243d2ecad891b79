"""Event topics: every state change is recorded under one of these."""

from __future__ import annotations

TASK_ENQUEUED = "task.enqueued"
TASK_STARTED = "task.started"
TASK_PROGRESS = "task.progress"
TASK_CHECKPOINTED = "task.checkpointed"
TASK_SUCCEEDED = "task.succeeded"
TASK_RETRYING = "task.retrying"
TASK_DEAD = "task.dead"
TASK_STALLED = "task.stalled"
TASK_TIMED_OUT = "task.timed_out"
TASK_LEASE_EXPIRED = "task.lease_expired"
TASK_RELEASED = "task.released"
TASK_CANCELLED = "task.cancelled"
TASK_REPLAYED = "task.replayed"
