"""Run a worker until SIGTERM or SIGINT (Ctrl-C): the first signal stops claiming and
lets running tasks finish within the shutdown grace period, a second releases them."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading

from coord.domain.durations import format_duration
from coord.runtime.worker import Worker, WorkerStats

logger = logging.getLogger(__name__)


async def run_until_signalled(worker: Worker) -> WorkerStats:
    """Run ``worker`` until it stops; the first SIGTERM/SIGINT stops it gracefully, a
    second one at once. Signal handlers are installed only in the main thread."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    installed = threading.current_thread() is threading.main_thread()
    received = 0

    def on_signal(sig: signal.Signals) -> None:
        nonlocal received
        received += 1
        _announce(worker, sig, again=received > 1)
        worker.stop(immediate=received > 1)

    if installed:
        for sig in signals:
            loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await worker.run()
    finally:
        if installed:
            for sig in signals:
                loop.remove_signal_handler(sig)


def _announce(worker: Worker, sig: signal.Signals, *, again: bool) -> None:
    """Log what a signal does, at once: waiting for running tasks to finish may take
    the whole grace period, with no other sign of life meanwhile."""
    if again:
        logger.warning(
            "worker %s: %s again: releasing %d running task(s) now",
            worker.id,
            sig.name,
            worker.running,
        )
    elif worker.running:
        logger.info(
            "worker %s: %s received, shutting down: waiting up to %s (COORD_SHUTDOWN_GRACE) "
            "for %d running task(s) to finish, then releasing them; a second SIGTERM or "
            "Ctrl-C releases them at once",
            worker.id,
            sig.name,
            format_duration(worker.config.shutdown_grace),
            worker.running,
        )
    else:
        logger.info("worker %s: %s received, shutting down", worker.id, sig.name)
