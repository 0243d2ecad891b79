"""Wake-ups for SQLite: at once for commits made in this process (store signals), and
within ``interval`` for commits by other processes, seen through ``PRAGMA
data_version`` on a separate read-only connection (a cheap check that reads no table)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from coord.storage.commit_wakeups import WriteSignals

logger = logging.getLogger(__name__)


class SqliteNotifier:
    """Watches one SQLite file (and its store's in-process signals)."""

    def __init__(self, path: Path | None, signals: WriteSignals, interval: float = 0.02) -> None:
        self._path = path
        self._signals = signals
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: tuple[Callable[[], None], Callable[[], None]] | None = None
        self._on_message: Callable[[], None] | None = None

    def start(
        self,
        on_due: Callable[[], None],
        on_done: Callable[[], None],
        on_message: Callable[[], None] | None = None,
    ) -> None:
        """Subscribe to in-process signals and start watching the file."""
        self._listeners = (on_due, on_done)
        self._signals.subscribe(on_due, on_done)
        if on_message is not None:
            self._on_message = on_message
            self._signals.subscribe_messages(on_message)
        if self._path is None:
            return  # an in-memory database has no other processes
        self._stop.clear()
        callbacks = [on_due, on_done] + ([on_message] if on_message is not None else [])
        self._thread = threading.Thread(
            target=self._watch, args=(callbacks,), name="coord-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching."""
        if self._listeners is not None:
            self._signals.unsubscribe(*self._listeners)
            self._listeners = None
        if self._on_message is not None:
            self._signals.unsubscribe_messages(self._on_message)
            self._on_message = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _watch(self, callbacks: list[Callable[[], None]]) -> None:
        try:
            conn = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            logger.warning("cannot watch %s for changes (%s); relying on polling", self._path, exc)
            return
        try:
            seen = conn.execute("PRAGMA data_version").fetchone()[0]
            while not self._stop.wait(self._interval):
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if version != seen:
                    seen = version
                    for callback in callbacks:
                        callback()
        except sqlite3.Error as exc:
            logger.warning("stopped watching %s (%s); relying on polling", self._path, exc)
        finally:
            conn.close()
