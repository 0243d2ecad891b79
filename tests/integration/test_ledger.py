"""The audit ledger on both backends: every event sealed exactly once into a valid
chain, idempotent sealing, the lag reported, the worker sealing on its own, events
committed out of id order on PostgreSQL, and concurrent sealers that never fork."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import psycopg
import pytest

import coord
from coord.app import connect
from coord.services import audit
from coord.settings import load_settings
from tests.helpers import drive_run, work_until


def sql(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement on the test database directly (``?`` placeholders)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return conn.execute(query, params).fetchall()
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query.replace("?", "%s"), params)
        return cur.fetchall() if cur.description else []


def seal_all(app: coord.App, *, timeout: float = 20.0) -> int:
    """Seal until nothing is left. On PostgreSQL a transaction elsewhere on the server
    (another test session, say) holds the horizon back for a moment: wait it out."""
    total = 0
    deadline = time.monotonic() + timeout
    while True:
        report = audit.seal(app.store)
        total += report.sealed
        if report.unsealed == 0:
            return total
        assert time.monotonic() < deadline, f"still {report.unsealed} unsealed"
        time.sleep(0.05)


def assert_sealed_once(app: coord.App, url: str) -> int:
    """Every event is in the ledger exactly once, seqs run 1..n, and verify passes."""
    events = [r[0] for r in sql(url, "SELECT id FROM coord_events ORDER BY id")]
    sealed = sql(url, "SELECT seq, event_id FROM coord_ledger ORDER BY seq")
    assert [seq for seq, _ in sealed] == list(range(1, len(events) + 1))
    assert sorted(event_id for _, event_id in sealed) == events
    report = audit.verify(app.store)
    assert report.ok, report
    assert report.entries_checked == len(events) == report.head_seq
    return len(events)


def history(app: coord.App) -> None:
    """Tasks, messages and a workflow run: events from all over the stores."""

    @app.task
    async def step(ctx: coord.Context, n: int = 0) -> dict[str, int]:
        return {"n": n}

    wf = app.workflow("audited")
    wf.phase("one", task=step, params={"n": 1})
    wf.phase("two", task=step, after=["one"], params={"n": 2})
    app.add_agent("coder")
    app.add_agent("reviewer")
    app.subscribe("reviewer", "reviews")
    for n in range(5):
        app.enqueue(step, {"n": n})
    app.send("coder", "reviewer", "please review", {"pr": 7, "ratio": 0.25, "text": "é\n"})
    app.send("coder", "topic:reviews", "broadcast", "plain text")
    run = app.runs.start("audited", {"why": "audit"})
    drive_run(app, run.id)


def test_every_event_is_sealed_exactly_once_in_a_valid_chain(
    app: coord.App, database_url: str
) -> None:
    history(app)  # its worker sealed some events already, on its own
    seal_all(app)
    n = assert_sealed_once(app, database_url)
    assert n > 20
    head = app.store.ledger_head()

    # Sealing again seals nothing and leaves the head as it was.
    again = audit.seal(app.store)
    assert (again.sealed, again.head_seq, again.head_hash) == (0, head.seq, head.hash)

    # New history continues the same chain.
    app.send("reviewer", "coder", "done", None)
    assert seal_all(app) == 2  # message.sent and message.delivered
    assert assert_sealed_once(app, database_url) == n + 2
    first = app.store.ledger_entries(head.seq, head.seq + 1, 1)[0]
    assert first.prev_hash == head.hash


def test_status_reports_the_unsealed_events_and_their_lag(app: coord.App) -> None:
    start = audit.status(app.store)
    assert (start.head_seq, start.unsealed, start.lag_seconds) == (0, 0, None)
    assert start.head_hash == "0" * 64 and start.sealed_at is None
    for n in range(3):
        app.add_agent(f"agent{n}")
    time.sleep(0.2)
    waiting = audit.status(app.store)
    assert waiting.unsealed == 3 and waiting.oldest_unsealed_at is not None
    assert waiting.lag_seconds is not None and waiting.lag_seconds >= 0.2
    seal_all(app)
    done = audit.status(app.store)
    assert (done.head_seq, done.unsealed, done.lag_seconds) == (3, 0, None)
    assert done.sealed_at is not None and done.head_event_id > 0


def test_the_worker_seals_within_its_interval(database_url: str, settings_env: None) -> None:
    settings = load_settings(database_url=database_url, ledger_seal_interval="0.1s")
    with coord.App(database_url, settings=settings) as app:

        @app.task
        def noop(ctx: coord.SyncContext, n: int = 0) -> int:
            return n

        handles = [app.enqueue(noop, {"n": n}) for n in range(20)]
        ids = [h.id for h in handles]

        def all_sealed() -> bool:
            done = all(app.get_task(i).state.is_terminal for i in ids)
            return done and app.store.ledger_backlog().count == 0

        work_until(app, all_sealed, timeout=30)
        assert assert_sealed_once(app, database_url) >= 60  # enqueued, started, succeeded


def test_an_event_committed_after_a_later_id_is_sealed_exactly_once(
    app: coord.App, database_url: str
) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite commits event ids in order (one writer)")
    app.add_agent("early")
    seal_all(app)
    # A transaction takes the next event id and stays open while a later one commits.
    with psycopg.connect(database_url) as slow:
        slow_id = slow.execute(
            "INSERT INTO coord_events (topic, actor) VALUES ('test.slow', 'slow') RETURNING id"
        ).fetchone()
        assert slow_id is not None
        app.add_agent("fast")
        fast_id = sql(database_url, "SELECT max(id) FROM coord_events")[0][0]
        assert fast_id > slow_id[0]
        audit.seal(app.store)
        sealed = {r[0] for r in sql(database_url, "SELECT event_id FROM coord_ledger")}
        # The later id is committed, but sealing it now would skip the slow one for ever.
        assert fast_id not in sealed and slow_id[0] not in sealed
        assert audit.status(app.store).unsealed >= 1
        slow.commit()
    seal_all(app)
    assert_sealed_once(app, database_url)
    order = [r[0] for r in sql(database_url, "SELECT event_id FROM coord_ledger ORDER BY seq")]
    assert order.index(slow_id[0]) < order.index(fast_id)  # sealed in commit order


def test_two_sealers_at_once_never_fork_the_chain(app: coord.App, database_url: str) -> None:
    @app.task
    def noop(ctx: coord.SyncContext) -> None:
        return None

    app.enqueue_many(noop, [{}] * 1500)
    # Two stores (two connections, as two processes would have), sealing in small
    # batches while a third writer keeps adding events.
    stores = [connect(app.settings) for _ in range(2)]
    sealed: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def seal_with(store: Any) -> None:
        try:
            while not stop.is_set():
                sealed.append(store.seal_ledger(batch_size=50, max_batches=3))
        except BaseException as exc:
            errors.append(exc)

    def write() -> None:
        for _ in range(10):
            app.enqueue_many(noop, [{}] * 50)

    threads = [threading.Thread(target=seal_with, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    try:
        write()
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        for store in stores:
            store.close()
    assert not errors, errors
    total = sum(sealed) + seal_all(app)
    assert total == assert_sealed_once(app, database_url) == 2000
