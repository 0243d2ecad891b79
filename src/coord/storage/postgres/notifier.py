"""Wake-ups over LISTEN/NOTIFY, on a dedicated connection in a background thread.

After every (re)connect the listener calls every callback once: notifications
sent while it was disconnected are lost, so listeners re-check instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

logger = logging.getLogger(__name__)

DUE_CHANNEL = "coord_due"
DONE_CHANNEL = "coord_done"
MESSAGE_CHANNEL = "coord_message"
_CHECK_STOP_EVERY = 0.2
_RECONNECT_MAX = 5.0


class PgNotifier:
    """Calls ``on_due``/``on_done`` when other sessions NOTIFY coord's channels."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(
        self,
        on_due: Callable[[], None],
        on_done: Callable[[], None],
        on_message: Callable[[], None] | None = None,
    ) -> None:
        """Start the listening thread."""
        self._stop.clear()
        callbacks = {DUE_CHANNEL: on_due, DONE_CHANNEL: on_done}
        if on_message is not None:
            callbacks[MESSAGE_CHANNEL] = on_message
        self._thread = threading.Thread(
            target=self._listen, args=(callbacks,), name="coord-listen", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening (returns within about 0.2 s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _listen(self, callbacks: dict[str, Callable[[], None]]) -> None:
        delay = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    for channel in callbacks:
                        conn.execute(f"LISTEN {channel}")
                    delay = 0.1
                    for callback in callbacks.values():
                        callback()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=_CHECK_STOP_EVERY):
                            callbacks[note.channel]()
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return
                logger.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, _RECONNECT_MAX)
