"""Waiting for a message: woken by the store's "message delivered" notifications
(LISTEN/NOTIFY on PostgreSQL, in-process signals and the file watch on SQLite), with a
slow poll as a safety net for a notification lost while reconnecting."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable

from coord.domain.views import InboxMessage
from coord.ports.store import Notifier, Store

_SAFETY_POLL = 1.0


class MessageWaiter:
    """Shared by every ``receive`` of one App; starts its notifier on first use."""

    def __init__(self, store: Store, notifier_factory: Callable[[], Notifier]) -> None:
        self._store = store
        self._notifier_factory = notifier_factory
        self._notifier: Notifier | None = None
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def close(self) -> None:
        """Stop listening."""
        with self._lock:
            notifier, self._notifier = self._notifier, None
        if notifier is not None:
            notifier.stop()

    def _ensure_listening(self) -> None:
        with self._lock:
            if self._notifier is None:
                self._notifier = self._notifier_factory()
                self._notifier.start(lambda: None, lambda: None, self._on_message)

    def _on_message(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def take(
        self, agent: str, topic: str | None, by_priority: bool, timeout: float | None
    ) -> InboxMessage | None:
        """The next unread message of ``agent`` (marked read), as soon as there is one;
        None after ``timeout`` seconds."""
        self._ensure_listening()
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        entry = (loop, event)
        with self._lock:
            self._waiters.add(entry)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                event.clear()  # before the check: a delivery after it sets the event
                found = await asyncio.to_thread(self._store.take, agent, topic, by_priority)
                if found is not None:
                    return found
                wait = _SAFETY_POLL
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), wait)
        finally:
            with self._lock:
                self._waiters.discard(entry)
