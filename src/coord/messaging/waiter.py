"""Waiting for a message: woken by the store's "message delivered" notifications
(LISTEN/NOTIFY on PostgreSQL, in-process signals and the file watch on SQLite), with a
slow poll as a safety net for a notification lost while reconnecting."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from coord.domain.views import InboxMessage
from coord.ports.store import Notifier, Store
from coord.runtime.wakeups import Wakeups

_SAFETY_POLL = 1.0


def _on_message(notifier: Notifier, fire: Callable[[], None]) -> None:
    notifier.start(lambda: None, lambda: None, fire)


class MessageWaiter:
    """Shared by every ``receive`` of one App; starts its notifier on first use."""

    def __init__(self, store: Store, notifier_factory: Callable[[], Notifier]) -> None:
        self._store = store
        self._wakeups = Wakeups(notifier_factory, _on_message)

    def close(self) -> None:
        """Stop listening."""
        self._wakeups.close()

    async def take(
        self, agent: str, topic: str | None, by_priority: bool, timeout: float | None
    ) -> InboxMessage | None:
        """The next unread message of ``agent`` (marked read), as soon as there is one;
        None after ``timeout`` seconds."""
        self._wakeups.ensure_listening()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._wakeups.event() as delivered:
            while True:
                delivered.clear()  # before the check: a delivery after it sets the event
                found = await asyncio.to_thread(self._store.take, agent, topic, by_priority)
                if found is not None:
                    return found
                wait = _SAFETY_POLL
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(delivered.wait(), wait)

    def take_blocking(
        self, agent: str, topic: str | None, by_priority: bool, timeout: float | None
    ) -> InboxMessage | None:
        """:meth:`take` for blocking code: this thread sleeps until a delivery (or the
        safety poll) instead of polling the store."""
        self._wakeups.ensure_listening()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            generation = self._wakeups.generation  # before the check, as in take
            found = self._store.take(agent, topic, by_priority)
            if found is not None:
                return found
            wait = _SAFETY_POLL
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return None
            self._wakeups.wait(generation, wait)
