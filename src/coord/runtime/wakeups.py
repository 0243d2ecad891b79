"""Wake-ups from a store's notifier, started on first use, for blocked threads and
asyncio tasks alike: each firing bumps a generation (threads wait on a condition for
it to change) and sets every registered task's event (from the notifier's thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from coord.ports.store import Notifier

Subscribe = Callable[[Notifier, Callable[[], None]], None]


class Wakeups:
    """One notifier, many waiters. ``subscribe(notifier, fire)`` starts the notifier
    with ``fire`` as the callback that matters (e.g. "tasks finished")."""

    def __init__(self, notifier_factory: Callable[[], Notifier], subscribe: Subscribe) -> None:
        self._notifier_factory = notifier_factory
        self._subscribe = subscribe
        self._notifier: Notifier | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._generation = 0
        self._events: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def close(self) -> None:
        """Stop listening."""
        with self._lock:
            notifier, self._notifier = self._notifier, None
        if notifier is not None:
            notifier.stop()

    def ensure_listening(self) -> None:
        """Start the notifier if it is not running."""
        with self._lock:
            if self._notifier is None:
                self._notifier = self._notifier_factory()
                self._subscribe(self._notifier, self.fire)

    def fire(self) -> None:
        """Wake every waiter (called from any thread)."""
        with self._lock:
            self._generation += 1
            self._changed.notify_all()
            events = list(self._events)
        for loop, event in events:
            loop.call_soon_threadsafe(event.set)

    @property
    def generation(self) -> int:
        """How many times it fired: read before a check, pass to :meth:`wait`."""
        with self._lock:
            return self._generation

    def wait(self, generation: int, timeout: float) -> None:
        """Block until it fires after ``generation`` was read, at most ``timeout`` s."""
        with self._lock:
            if self._generation == generation:
                self._changed.wait(timeout)

    @contextmanager
    def event(self) -> Iterator[asyncio.Event]:
        """An event of the running loop, set at every firing while the block runs."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._events.add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._events.discard(entry)
