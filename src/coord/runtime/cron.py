"""Cron schedules: every worker that serves a schedule's queue may enqueue its
occurrences; the idempotency key ``cron:<schedule>:<occurrence>`` makes each
occurrence one task, however many workers race for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from croniter import croniter

from coord.domain.tasks import Priority
from coord.errors import CoordError
from coord.ports.store import Store
from coord.runtime.queue import EnqueueOptions, build_tasks
from coord.runtime.registry import Registry, Schedule

if TYPE_CHECKING:
    from coord.runtime.worker import WorkerConfig

logger = logging.getLogger(__name__)
T = TypeVar("T")
CRON_ACTOR = "coord:cron"


def validate_cron(expression: str) -> None:
    """Raise ``ValueError`` unless ``expression`` is a valid 5- or 6-field cron line
    (the 6th field is seconds)."""
    if not croniter.is_valid(expression):
        raise ValueError(f"invalid cron expression {expression!r}")


def latest_occurrence(expression: str, now: datetime) -> datetime:
    """The most recent occurrence at or before ``now`` (UTC)."""
    itr = croniter(expression, now)
    if croniter.match(expression, now.replace(microsecond=0)):
        return now.replace(microsecond=0)
    previous: datetime = itr.get_prev(datetime)
    return previous


def occurrence_key(schedule: str, occurrence: datetime) -> str:
    """The idempotency key of one occurrence."""
    return f"cron:{schedule}:{occurrence.astimezone(UTC).isoformat()}"


class CronScheduler:
    """Enqueues due occurrences of the schedules whose queue this worker serves."""

    def __init__(
        self,
        registry: Registry,
        store: Store,
        config: WorkerConfig,
        call: Callable[..., Awaitable[Any]],
    ) -> None:
        self._registry = registry
        self._store = store
        self._config = config
        self._call = call
        self._schedules = [
            s for s in registry.schedules.values() if self._queue_of(s) in config.queues
        ]
        self._done: dict[str, datetime] = {}

    @property
    def has_schedules(self) -> bool:
        """True if this worker serves any schedule."""
        return bool(self._schedules)

    def _queue_of(self, schedule: Schedule) -> str:
        return schedule.queue or self._registry.tasks[schedule.task].policy.queue

    async def run(self) -> None:
        """Check the schedules at the start of every second."""
        while True:
            await self.tick(datetime.now(UTC))
            await asyncio.sleep(1.0 - (datetime.now(UTC).microsecond / 1e6) + 0.001)

    async def tick(self, now: datetime) -> None:
        """Enqueue the latest occurrence of each schedule if it is new and not too late."""
        for schedule in self._schedules:
            occurrence = latest_occurrence(schedule.cron, now)
            if self._done.get(schedule.name) == occurrence:
                continue
            late = (now - occurrence).total_seconds()
            if late <= self._config.cron_misfire_grace:
                try:
                    await self._enqueue(schedule, occurrence)
                except CoordError as exc:
                    logger.warning(
                        "cron %s: could not enqueue %s: %s", schedule.name, occurrence, exc
                    )
                    continue
            self._done[schedule.name] = occurrence

    async def _enqueue(self, schedule: Schedule, occurrence: datetime) -> None:
        definition = self._registry.tasks[schedule.task]
        options = EnqueueOptions(
            queue=schedule.queue,
            priority=None if schedule.priority is None else Priority(schedule.priority),
        )
        payload = dict(schedule.payload)
        tasks = build_tasks(
            definition.policy,
            [payload],
            [occurrence_key(schedule.name, occurrence)],
            options,
            max_payload_bytes=self._config.max_payload_bytes,
            check=definition.check_payload,
        )
        results = await self._call(self._store.enqueue, tasks, CRON_ACTOR)
        if results[0].created:
            logger.info("cron %s: enqueued %s for %s", schedule.name, results[0].id, occurrence)
