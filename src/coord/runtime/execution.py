"""Running one attempt: call the handler (async, or sync in a thread) through the
middleware, and turn how it ended (a result, an exception, or a stop by the worker's
watchdog: timeout, stall, lost lease, shutdown) into an :class:`Outcome`."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from coord.domain.tasks import Outcome
from coord.errors import FatalError, HandlerTimeout, TransientError
from coord.runtime import outcomes
from coord.runtime.attempt import Attempt, StopReason
from coord.runtime.context import AttemptServices, Context, SyncContext
from coord.runtime.middleware import Middleware, TaskCall, chain
from coord.runtime.registry import Registry, TaskDefinition


class AttemptRunner:
    """Runs attempts for one worker."""

    def __init__(
        self,
        registry: Registry,
        services: AttemptServices,
        middlewares: Sequence[Middleware],
        handler_threads: int,
    ) -> None:
        self._registry = registry
        self._services = services
        self._threads: ThreadPoolExecutor | None = None
        self._handler_threads = handler_threads
        self._call = chain(middlewares, self._call_handler) if middlewares else self._call_handler

    def close(self) -> None:
        """Stop the handler threads (a hung sync handler keeps its thread until it returns)."""
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)

    async def run(self, attempt: Attempt) -> Outcome | None:
        """Run the handler and return the outcome to record (None: the lease is gone)."""
        task = attempt.task
        started = time.monotonic()
        definition = self._registry.tasks.get(task.name)
        try:
            if definition is None:
                raise TransientError(
                    f"no handler for task {task.name!r} in this worker; every worker on "
                    f"queue {task.queue!r} must register it"
                )
            try:
                definition.check_payload(task.payload)
            except ValueError as exc:
                raise FatalError(str(exc)) from None
            context: Context | SyncContext = (
                Context(attempt, self._services)
                if definition.is_async
                else SyncContext(attempt, self._services)
            )
            call = TaskCall(task.name, task.id, task.attempt, task.payload, context)
            result = await self._call(call)
        except asyncio.CancelledError:
            return self._stopped(attempt)
        except Exception as exc:
            return outcomes.failed(task, exc, attempt.usage.take())
        duration = time.monotonic() - started
        return outcomes.succeeded(task, result, attempt.usage.take(), duration)

    @staticmethod
    def _stopped(attempt: Attempt) -> Outcome | None:
        reason = attempt.stop_reason
        if reason is None:
            raise asyncio.CancelledError  # the worker itself is being torn down
        usage = attempt.usage.take()
        if reason is StopReason.STALLED:
            return outcomes.stalled(attempt.task, usage, time.monotonic() - attempt.last_beat)
        if reason is StopReason.SHUTDOWN:
            return outcomes.released(attempt.task, usage)
        if reason is StopReason.TIMEOUT:
            limit = attempt.task.timeout or 0.0
            error = HandlerTimeout(f"handler ran longer than its timeout of {limit:g}s")
            return outcomes.failed(attempt.task, error, usage)
        return None  # LEASE_LOST: the task belongs to someone else now

    async def _call_handler(self, call: TaskCall) -> Any:
        definition: TaskDefinition[..., Any] = self._registry.tasks[call.task_name]
        if definition.is_async:
            return await definition.fn(call.context, **call.payload)
        if self._threads is None:
            self._threads = ThreadPoolExecutor(
                self._handler_threads, thread_name_prefix="coord-handler"
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._threads, functools.partial(definition.fn, call.context, **call.payload)
        )
