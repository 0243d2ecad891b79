"""In-process wake-ups fired by a store after it commits, so a worker in the same
process reacts at once instead of waiting for a poll or a database notification."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

Listener = Callable[[], None]


class WriteSignals:
    """Listeners for "tasks became due", "tasks finished" and "messages delivered"."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._due: list[Listener] = []
        self._done: list[Listener] = []
        self._message: list[Listener] = []

    def subscribe(self, on_due: Listener, on_done: Listener) -> None:
        """Call ``on_due``/``on_done`` after the matching commits."""
        with self._lock:
            self._due.append(on_due)
            self._done.append(on_done)

    def unsubscribe(self, on_due: Listener, on_done: Listener) -> None:
        """Stop calling the listeners given to :meth:`subscribe`."""
        with self._lock:
            if on_due in self._due:
                self._due.remove(on_due)
            if on_done in self._done:
                self._done.remove(on_done)

    def subscribe_messages(self, on_message: Listener) -> None:
        """Call ``on_message`` after commits that delivered messages."""
        with self._lock:
            self._message.append(on_message)

    def unsubscribe_messages(self, on_message: Listener) -> None:
        """Stop calling a listener given to :meth:`subscribe_messages`."""
        with self._lock:
            if on_message in self._message:
                self._message.remove(on_message)

    def fire_message(self) -> None:
        """Messages were delivered."""
        self._fire(self._message)

    def fire_due(self) -> None:
        """Tasks became due."""
        self._fire(self._due)

    def fire_done(self) -> None:
        """Tasks reached a final state."""
        self._fire(self._done)

    def _fire(self, listeners: list[Listener]) -> None:
        for listener in tuple(listeners):
            try:
                listener()
            except Exception:  # a broken listener must never fail a commit
                logger.exception("wake-up listener failed")
