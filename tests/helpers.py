"""Helpers shared by the test suites."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

import coord
from coord.domain.run_views import RunInfo
from coord.domain.tasks import TaskState
from coord.runtime.worker import Worker, WorkerStats
from coord.services.runs import settled


def states(app: coord.App, ids: Iterable[str]) -> list[TaskState]:
    """The current state of each task."""
    return [app.get_task(i).state for i in ids]


def all_final(app: coord.App, ids: Iterable[str]) -> Callable[[], bool]:
    """A predicate: every task reached a final state."""
    wanted = list(ids)
    return lambda: all(s.is_terminal for s in states(app, wanted))


async def run_until(
    worker: Worker, done: Callable[[], bool], *, timeout: float = 30.0
) -> WorkerStats:
    """Run ``worker`` until ``done()`` holds, then stop it gracefully."""
    running = asyncio.create_task(worker.run())
    deadline = time.monotonic() + timeout
    try:
        while not await asyncio.to_thread(done):
            if running.done():
                running.result()
                raise AssertionError("the worker stopped on its own")
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not reached within {timeout}s")
            await asyncio.sleep(0.02)
    finally:
        worker.stop()
        stats = await running
    return stats


def work_until(
    app: coord.App, done: Callable[[], bool], *, timeout: float = 30.0, **options: object
) -> WorkerStats:
    """Run a worker of ``app`` (in this thread) until ``done()`` holds."""
    return asyncio.run(run_until(app.worker(**options), done, timeout=timeout))


def drive_run(
    app: coord.App,
    run_id: str,
    *,
    until: Callable[[], bool] | None = None,
    timeout: float = 30.0,
    **options: object,
) -> RunInfo:
    """Run a worker of ``app`` until the run settles (ended, paused, or waiting for
    an approval) or ``until()`` holds; return the run."""
    done = until or (lambda: settled(app.runs.get(run_id)))
    work_until(app, done, timeout=timeout, **options)
    return app.runs.get(run_id)


def mailbox_rows(database_url: str) -> tuple[int, int, int]:
    """How many messages, deliveries and events the database holds, counted in the
    tables themselves (the event feed shows an event only once it is safe to)."""
    queries = [
        "SELECT count(*) FROM coord_messages",
        "SELECT count(*) FROM coord_deliveries",
        "SELECT count(*) FROM coord_events",
    ]
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as db:
            a, b, c = (db.execute(q).fetchone()[0] for q in queries)
    else:
        url = database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url) as pg:
            a, b, c = (scalar_of(pg.execute(q).fetchone()) for q in queries)
    return int(a), int(b), int(c)


def scalar_of(row: Any) -> int:
    assert row is not None
    return int(row[0])
