"""Letting time pass while waiting for something stored elsewhere, in both forms:
``scripts/generate_sync.py`` turns :func:`nap` into :func:`nap_blocking` when it
writes ``_sync`` from ``_async``."""

from __future__ import annotations

import asyncio
import time


async def nap(seconds: float) -> None:
    """Let ``seconds`` pass without holding the event loop."""
    await asyncio.sleep(seconds)


def nap_blocking(seconds: float) -> None:
    """Let ``seconds`` pass, blocking this thread (the blocking form of :func:`nap`)."""
    time.sleep(seconds)


__all__ = ["nap", "nap_blocking"]
