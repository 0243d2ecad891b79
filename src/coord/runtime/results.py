"""Waiting for a task to finish: woken by the store's "done" notifications, with a
slow poll as a safety net (a notification can be lost while reconnecting)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from coord.domain.tasks import TaskState
from coord.domain.views import TaskInfo
from coord.errors import NotFound, TaskCancelled, TaskFailed, WaitTimeout
from coord.ports.store import Notifier, Store
from coord.runtime.wakeups import Wakeups

_SAFETY_POLL = 0.5


def _on_done(notifier: Notifier, fire: Callable[[], None]) -> None:
    notifier.start(on_due=lambda: None, on_done=fire)


class ResultWaiter:
    """Shared by all waits of one App; starts its notifier on first use."""

    def __init__(self, store: Store, notifier_factory: Callable[[], Notifier]) -> None:
        self._store = store
        self._wakeups = Wakeups(notifier_factory, _on_done)

    def close(self) -> None:
        """Stop listening."""
        self._wakeups.close()

    def wait(self, task_id: str, timeout: float | None) -> TaskInfo:
        """Block until the task is final; return it."""
        self._wakeups.ensure_listening()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            generation = self._wakeups.generation
            info = _final(self._store.get_task(task_id), task_id)
            if info is not None:
                return info
            remaining = _remaining(deadline, task_id, timeout)
            self._wakeups.wait(generation, min(remaining, _SAFETY_POLL))

    async def wait_async(self, task_id: str, timeout: float | None) -> TaskInfo:
        """Wait (without blocking the event loop) until the task is final; return it."""
        self._wakeups.ensure_listening()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._wakeups.event() as finished:
            while True:
                finished.clear()
                info = _final(await asyncio.to_thread(self._store.get_task, task_id), task_id)
                if info is not None:
                    return info
                remaining = _remaining(deadline, task_id, timeout)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(finished.wait(), min(remaining, _SAFETY_POLL))


def unwrap(info: TaskInfo) -> Any:
    """The result of a final task, or the error that says why there is none."""
    if info.state is TaskState.SUCCEEDED:
        return info.result
    if info.state is TaskState.CANCELLED:
        raise TaskCancelled(f"task {info.id} was cancelled", task_id=info.id)
    error = info.error or {}
    raise TaskFailed(
        f"task {info.id} ({info.name}) is dead after {info.attempt} attempt(s): "
        f"{error.get('type', 'error')}: {error.get('message', '')}",
        task_id=info.id,
        error=error,
    )


def _final(info: TaskInfo | None, task_id: str) -> TaskInfo | None:
    if info is None:
        raise NotFound(f"no task with id {task_id}", task_id=task_id)
    return info if info.state.is_terminal else None


def _remaining(deadline: float | None, task_id: str, timeout: float | None) -> float:
    if deadline is None:
        return _SAFETY_POLL
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise WaitTimeout(f"task {task_id} did not finish within {timeout:g}s", task_id=task_id)
    return remaining
