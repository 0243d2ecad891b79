"""A lease runs from the moment its write holds the lock, not from before a wait.

Regression (issue 13, item 1): the SQLite store read the clock before ``BEGIN
IMMEDIATE``, which can wait up to the busy timeout for other writers; a claim that
waited longer than its lease committed a lease that had already expired, and
``recover_expired()`` handed the task to another worker while its own still ran it.
PostgreSQL's ``now()`` is the start of the transaction, which has the same flaw when a
claim waits for a concurrency key's advisory lock, or a renewal for a row lock.

Each test holds the lock the write needs from another connection for longer than the
lease, then checks the stored lease against the clock at the moment the lock was
released, and that nothing is recoverable while the lease's holder is alive.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

import coord
from coord.domain import events
from coord.domain.tasks import Outcome, Renewal, TaskState
from coord.storage.url import parse_database_url

LEASE = 2.0


def _epoch_row(app: coord.App, task_id: str) -> tuple[str, float, float]:
    """(state, started_at, lease_expires_at) of a task, as epoch seconds."""
    url = app.settings.database_url
    if url.startswith("sqlite"):
        path = parse_database_url(url).sqlite_path
        with sqlite3.connect(path) as conn:
            row = conn.execute(
                "SELECT state, started_at, lease_expires_at FROM coord_tasks WHERE id = ?",
                (task_id,),
            ).fetchone()
        return row[0], row[1], row[2]
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT state, extract(epoch FROM started_at)::float8,"
            " extract(epoch FROM lease_expires_at)::float8 FROM coord_tasks WHERE id = %s",
            (task_id,),
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


@contextmanager
def _held(
    app: coord.App, hold: float, lock_sql: str, params: tuple[Any, ...] = ()
) -> Iterator[list[float]]:
    """Hold a lock from another connection (SQLite: the write lock; PostgreSQL: what
    ``lock_sql`` takes) for ``hold`` seconds while the block's body writes; yield a list
    that receives the database clock at the release."""
    released: list[float] = []
    url = app.settings.database_url
    if url.startswith("sqlite"):
        blocker = sqlite3.connect(
            parse_database_url(url).sqlite_path, isolation_level=None, check_same_thread=False
        )
        blocker.execute("BEGIN IMMEDIATE")

        def release() -> None:
            released.append(time.time())
            blocker.execute("COMMIT")

    else:
        pg = psycopg.connect(url)
        pg.execute(lock_sql, params)

        def release() -> None:
            row = pg.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
            assert row is not None
            released.append(row[0])
            pg.rollback()

    timer = threading.Timer(hold, release)
    timer.start()
    try:
        yield released
    finally:
        timer.join()
        if url.startswith("sqlite"):
            blocker.close()
        else:
            pg.close()


def _in_thread(call: Callable[[], Any]) -> Any:
    """Run ``call`` in a thread (it blocks on the lock) and return its result."""
    box: list[Any] = []
    worker = threading.Thread(target=lambda: box.append(call()))
    worker.start()
    worker.join(timeout=30)
    assert box, "the write never returned"
    return box[0]


def _limited(app: coord.App) -> coord.TaskDefinition:
    # A concurrency key makes the PostgreSQL claim take the key's advisory lock.
    @app.task(concurrency_key="k", concurrency_limit=1)
    async def limited(ctx: coord.Context) -> None:
        return None

    return limited


def test_a_claim_that_waited_for_a_lock_leases_from_when_it_held_it(app: coord.App) -> None:
    task_id = app.enqueue(_limited(app), {}).id
    key_lock = "SELECT pg_advisory_xact_lock(hashtextextended('coord:key:' || 'k', 0))"
    # Held longer than the lease: a lease read off the clock before the wait is over
    # before the claim commits.
    with _held(app, LEASE + 0.5, key_lock) as released:
        claimed = _in_thread(lambda: app.store.claim("w-live", ["default"], 1, LEASE))
    assert [c.id for c in claimed] == [task_id]
    state, started_at, lease_expires_at = _epoch_row(app, task_id)
    assert state == "running"
    assert started_at >= released[0], "task.started is back-dated to before the wait"
    assert lease_expires_at >= released[0] + LEASE, "the lease was spent waiting for the lock"
    # Its worker is alive and the lease has not run out: nothing to recover.
    assert app.store.recover_expired() == 0
    assert _epoch_row(app, task_id)[0] == "running"
    assert app.store.renew("w-live", [Renewal(task_id, 1)], LEASE) == {task_id}


def test_writes_asked_for_while_the_lease_was_live_are_honoured_after_a_long_wait(
    app: coord.App,
) -> None:
    """A renewal or an outcome asked for while the lease was live, which then waited
    for the lock past the lease's end, is accepted (nothing else could take the task:
    recovery needs the same lock), and the renewed lease runs from when it got it."""
    task_id = app.enqueue(_limited(app), {}).id
    (claimed,) = app.store.claim("w-live", ["default"], 1, LEASE)
    row_lock = "SELECT 1 FROM coord_tasks WHERE id = %s FOR UPDATE"
    with _held(app, LEASE + 0.5, row_lock, (task_id,)) as released:
        renewed = _in_thread(
            lambda: app.store.renew("w-live", [Renewal(task_id, claimed.attempt)], LEASE)
        )
    assert renewed == {task_id}, "a live worker lost its lease because the database was busy"
    _, _, lease_expires_at = _epoch_row(app, task_id)
    assert lease_expires_at >= released[0] + LEASE, "the renewal was spent waiting for the lock"
    assert app.store.recover_expired() == 0

    done = Outcome(task_id, claimed.attempt, TaskState.SUCCEEDED, events.TASK_SUCCEEDED, "1")
    with _held(app, LEASE + 0.5, row_lock, (task_id,)):
        accepted = _in_thread(lambda: app.store.complete("w-live", [done]))
    assert accepted == {task_id}
    assert app.get_task(task_id).state is TaskState.SUCCEEDED
