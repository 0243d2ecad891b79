"""The in-memory state of one running attempt, shared by the worker and the context."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from enum import Enum

from coord.domain.tasks import ClaimedTask, Renewal, Usage


class StopReason(Enum):
    """Why the worker stopped a handler before it returned."""

    STALLED = "stalled"  # missed stall_after heartbeat intervals
    LEASE_LOST = "lease_lost"  # the store refused our lease (expired, cancelled, stolen)
    SHUTDOWN = "shutdown"  # the worker is stopping and the grace period ran out
    TIMEOUT = "timeout"  # the handler ran past its timeout


@dataclass(eq=False, slots=True)
class Attempt:
    """One claimed task while its handler runs."""

    task: ClaimedTask
    started_at: float = field(default_factory=time.monotonic)
    last_beat: float = field(default_factory=time.monotonic)
    beat_pending: bool = False
    progress: float | None = None
    message: str | None = None
    usage: Usage = field(default_factory=Usage)
    stop_reason: StopReason | None = None
    handle: asyncio.Future[None] | None = None
    step_counts: dict[str, int] = field(default_factory=dict)
    keeps_slot: bool = False  # done, its slot held for its run's next step

    def stop(self, reason: StopReason) -> None:
        """Ask the handler to stop (first reason wins)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        if self.handle is not None and not self.handle.done():
            self.handle.cancel()

    def overdue(self, now: float) -> StopReason | None:
        """Why the watchdog must stop this handler now, if it must: it ran past its
        timeout, or it missed ``stall_after`` heartbeat intervals."""
        task = self.task
        if task.timeout is not None and now - self.started_at > task.timeout:
            return StopReason.TIMEOUT
        if task.heartbeat is not None and now - self.last_beat > task.heartbeat * task.stall_after:
            return StopReason.STALLED
        return None

    def take_renewal(self) -> Renewal:
        """The renewal to send now, consuming the pending heartbeat and usage."""
        renewal = Renewal(
            task_id=self.task.id,
            attempt=self.task.attempt,
            beat=self.beat_pending,
            progress=self.progress if self.beat_pending else None,
            message=self.message if self.beat_pending else None,
            usage=self.usage.take(),
        )
        self.beat_pending = False
        return renewal
