"""The SQLite connection both halves of the store share: one connection per store,
guarded by a lock (SQLite has a single writer per file, so more connections in one
process would only wait on each other). Writes run in ``BEGIN IMMEDIATE``
transactions: the write lock is taken up front, so a transaction never fails half-way
on a lock upgrade; other processes wait up to ``busy_timeout``. WAL lets readers run
beside the writer; ``synchronous=FULL`` makes every commit durable by default.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from coord.domain import codec
from coord.domain.tasks import ClaimedTask, EnqueueResult, NewTask, Outcome, TaskState
from coord.errors import CoordError, StoreError, StoreUnavailable
from coord.storage.commit_wakeups import WriteSignals
from coord.storage.rows import events as ev
from coord.storage.rows import tasks as task_rows
from coord.storage.rows.reader import (
    TASK_COLUMNS,
    RowReader,
    epoch_to_datetime,
    json_text_to_value,
)
from coord.storage.shared.session import Dialect, Params
from coord.storage.sql import load_queries, specialize

PACKAGE = __package__ or "coord.storage.sqlite"
logger = logging.getLogger(__name__)

# A write that waited this long (seconds) for the file's write lock is reported.
SLOW_LOCK_WAIT = 1.0
SLOW_LOCK_REPORT_EVERY = 30.0

Q = specialize(
    load_queries(PACKAGE),
    {"task_columns": TASK_COLUMNS},
    "queue_filter",
    {
        "one_queue": "queue = :queue",
        "many_queues": "queue IN (SELECT value FROM json_each(:queues))",
    },
)


def claimed_task(r: Sequence[Any]) -> ClaimedTask:
    """A ``claim_rows`` row as a :class:`ClaimedTask` (JSON columns are text)."""
    return ClaimedTask(
        id=r[0],
        name=r[1],
        queue=r[2],
        payload=codec.loads(r[3]),
        attempt=r[4],
        max_attempts=r[5],
        retry_backoff=r[6],
        retry_backoff_max=r[7],
        timeout=r[8],
        heartbeat=r[9],
        stall_after=r[10],
        checkpoint=json_text_to_value(r[11]),
        last_error=json_text_to_value(r[12]),
        run_id=r[13],
        phase=r[14],
        run_step=json_text_to_value(r[15]),
        run_input=json_text_to_value(r[16]),
    )


class SqliteSession:
    """A :class:`~coord.storage.shared.session.Session` on the store's cursor, which
    binds ``now`` (the time of the write, or of the read) into every query."""

    def __init__(self, cur: sqlite3.Cursor, now: float) -> None:
        self.cur = cur
        self.now = now

    def _params(self, params: Params | None) -> dict[str, Any]:
        return {"now": self.now} if params is None else {**params, "now": self.now}

    def one(self, sql: str, params: Params | None = None) -> Sequence[Any] | None:
        """The first row of ``sql``."""
        row: Sequence[Any] | None = self.cur.execute(sql, self._params(params)).fetchone()
        return row

    def all(self, sql: str, params: Params | None = None) -> list[Sequence[Any]]:
        """Every row of ``sql``."""
        return self.cur.execute(sql, self._params(params)).fetchall()

    def count(self, sql: str, params: Params | None = None) -> int:
        """Run a write; the rows it changed."""
        return self.cur.execute(sql, self._params(params)).rowcount

    def events(self, rows: Sequence[ev.Event]) -> None:
        """Insert events in this transaction, at its time."""
        SqliteConnection._insert_events(self.cur, rows, self.now)


class SqliteConnection(Dialect):
    """One SQLite connection and the transactions, error wrapping and inserts that
    both halves of the store (tasks, mailboxes) share."""

    _reader = RowReader(json_value=json_text_to_value, when=epoch_to_datetime)

    def __init__(
        self,
        path: str | Path | None,
        *,
        synchronous: str = "FULL",
        busy_timeout: float = 30.0,
        fast_claims: bool = True,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.signals = WriteSignals()
        self.lock_wait_max = 0.0  # the longest wait for the write lock seen (seconds)
        self._slow_waits: list[float] = []
        self._slow_reported_at = -SLOW_LOCK_REPORT_EVERY
        self._lock = threading.RLock()
        self._busy_timeout = busy_timeout
        self._synchronous = "FULL" if synchronous == "FULL" else "NORMAL"
        # Claims, renewals and recovery can be redone safely, so they need not wait for
        # fsync; everything else (enqueues, results, steps) keeps the durable setting.
        self._relaxed = "NORMAL" if fast_claims else self._synchronous
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.created = self.path is None or not self.path.exists()
        try:
            self._conn = sqlite3.connect(
                ":memory:" if self.path is None else self.path,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            if self.path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={self._synchronous}")
            self._conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self.path}: {exc}") from exc

    # -- plumbing -------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self, *, durable: bool = True) -> Iterator[tuple[sqlite3.Cursor, float]]:
        """A write transaction holding the file's write lock from the start, and the
        time to write in it.

        The time is read once the lock is held: ``BEGIN IMMEDIATE`` may wait up to the
        busy timeout for other writers, and a lease computed from a time before that
        wait would already be (partly) spent when it commits, so its task could be
        recovered while its worker still runs it. Every time a write stores (leases,
        run_at, created/started/finished) comes from here, never from before the
        transaction.

        ``durable=False`` commits without waiting for fsync: for work that is safe to
        lose in a power cut because it is redone (claims, renewals, recovery)."""
        with self._lock:
            cur = self._conn.cursor()
            relax = not durable and self._relaxed != self._synchronous
            if relax:
                cur.execute(f"PRAGMA synchronous={self._relaxed}")
            try:
                self._begin(cur)
                try:
                    yield cur, time.time()
                except BaseException:
                    self._conn.rollback()
                    raise
                try:
                    cur.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._conn.rollback()
                    raise StoreUnavailable(f"SQLite commit failed: {exc}") from exc
            finally:
                if relax:
                    cur.execute(f"PRAGMA synchronous={self._synchronous}")

    @contextmanager
    def _fenced_tx(self, *, durable: bool = True) -> Iterator[tuple[sqlite3.Cursor, float, float]]:
        """A write transaction for a lease holder's write: the cursor, the time to
        write (read once the lock is held, see :meth:`_tx`) and the time the write was
        asked for, which fences compare the lease with.

        A lease live when its worker asked is honoured even if the write then waited
        for the lock past its end: the owner column is what fences (recovery, which
        needs the same lock, clears it), so nothing else can hold the task meanwhile,
        and refusing would stop a live worker's handler, or throw away its result,
        only because the database was busy."""
        asked = time.time()
        with self._tx(durable=durable) as (cur, now):
            yield cur, now, asked

    def _begin(self, cur: sqlite3.Cursor) -> None:
        began = time.monotonic()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(
                f"SQLite database is locked by another writer ({exc}); "
                f"waited {self._busy_timeout:g}s"
            ) from exc
        waited = time.monotonic() - began
        if waited >= SLOW_LOCK_WAIT:
            self._slow_wait(waited)

    def _slow_wait(self, waited: float) -> None:
        """Report long waits for the write lock: at most one warning every
        ``SLOW_LOCK_REPORT_EVERY`` seconds, with the count and the longest since the
        last (a lease shorter than such waits can be lost by a live worker)."""
        self.lock_wait_max = max(self.lock_wait_max, waited)
        self._slow_waits.append(waited)
        now = time.monotonic()
        if now - self._slow_reported_at < SLOW_LOCK_REPORT_EVERY:
            return
        waits, self._slow_waits = self._slow_waits, []
        self._slow_reported_at = now
        logger.warning(
            "SQLite write lock: %d writes waited over %gs for it (longest %.1fs) in %s; "
            "leases must outlast such waits by a third (COORD_LEASE_DURATION): use fewer "
            "processes writing to one file, or PostgreSQL",
            len(waits),
            SLOW_LOCK_WAIT,
            max(waits),
            self.path,
        )

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            yield self._conn.cursor()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Wrap driver errors into coord's hierarchy."""
        try:
            yield
        except CoordError:
            raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreUnavailable(f"SQLite: {exc}") from exc
            raise StoreError(f"SQLite: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite: {exc}") from exc

    @staticmethod
    def _insert_events(cur: sqlite3.Cursor, rows: Sequence[ev.Event], now: float) -> None:
        """Insert events built by :mod:`coord.storage.rows.events` at ``now``."""
        if not rows:
            return
        # Events of tasks only (every enqueue, claim and completion) bind four values
        # and let the run and message columns default to NULL: binding the two NULLs
        # made the hot paths' event inserts a fifth slower (bench/coord_bench.py).
        # Messages' events (every send) likewise bind their own four.
        if all(row.run_id is None and row.message_id is None for row in rows):
            task_events = [(row.topic, row.task_id, row.actor, row.data, now) for row in rows]
            cur.executemany(Q["insert_task_event"], task_events)
        elif all(row.run_id is None and row.task_id is None for row in rows):
            message_events = [(row.topic, row.message_id, row.actor, row.data, now) for row in rows]
            cur.executemany(Q["insert_message_event"], message_events)
        else:
            cur.executemany(Q["insert_event"], [(*row, now) for row in rows])

    def _complete_on(
        self,
        cur: sqlite3.Cursor,
        owner: str,
        outcomes: Sequence[Outcome],
        now: float,
        asked: float,
    ) -> set[str]:
        """Record outcomes (fenced by the lease as of ``asked``) with their events inside
        the caller's transaction; return the ids accepted."""
        packed = codec.dumps(
            [
                [
                    o.task_id,
                    o.attempt,
                    o.state.value,
                    o.result_json,
                    o.error_json,
                    o.delay,
                    o.extra_attempts,
                    o.usage.tokens_in,
                    o.usage.tokens_out,
                    o.usage.usd_micros,
                    o.usage.tool_seconds,
                ]
                for o in outcomes
            ]
        )
        params = {"outcomes": packed, "owner": owner, "now": now, "asked": asked}
        accepted = {row[0] for row in cur.execute(Q["complete"], params).fetchall()}
        self._insert_events(cur, ev.outcome_events(outcomes, accepted, owner), now)
        return accepted

    def _signal_outcomes(self, outcomes: Sequence[Outcome], accepted: set[str]) -> None:
        """Wake this process's waiters and workers after outcomes committed."""
        if not accepted:
            return
        self.signals.fire_done()
        if any(o.task_id in accepted and o.state is TaskState.PENDING for o in outcomes):
            self.signals.fire_due()

    def _dict_rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows of a read as dicts by column name."""
        with self._errors(), self._read() as cur:
            cur.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    @contextmanager
    def _reading(self) -> Iterator[SqliteSession]:
        """A session for reads, under the connection lock (no write lock)."""
        with self._errors(), self._read() as cur:
            yield SqliteSession(cur, time.time())

    @contextmanager
    def _writing(self, *, durable: bool = True, atomic: bool = True) -> Iterator[SqliteSession]:
        """A write transaction holding the file's write lock (see :meth:`_tx`); every
        write is atomic here, whatever ``atomic`` says."""
        with self._errors(), self._tx(durable=durable) as (cur, now):
            yield SqliteSession(cur, now)

    def _id_list(self, ids: list[str]) -> Any:
        """Lists travel as JSON text."""
        return codec.dumps(ids)

    def _insert_tasks(
        self, cur: sqlite3.Cursor, tasks: Sequence[NewTask], actor: str | None, now: float
    ) -> list[EnqueueResult]:
        """Insert tasks and their events inside the caller's transaction; resolve
        idempotency keys (see ``Store.enqueue``)."""
        rows = [
            (
                t.id,
                t.name,
                t.queue,
                t.priority,
                t.payload_json,
                t.key,
                t.run_at if t.run_at is not None else now + t.delay,
                now,
                *task_rows.policy_columns(t),
                t.run_id,
                t.phase,
                t.run_step_json,
                t.run_input_json,
            )
            for t in tasks
        ]
        cur.executemany(Q["insert_task"], rows)
        if cur.rowcount == len(rows):
            inserted = {t.id for t in tasks}
            existing: dict[tuple[str, str], tuple[str, Any]] = {}
        else:
            inserted, existing = self._split_existing(cur, tasks)
        results = task_rows.resolve_enqueue(tasks, inserted, existing)
        created = [t for t, r in zip(tasks, results, strict=True) if r.created]
        self._insert_events(cur, ev.enqueued_events(created, actor), now)
        return results

    @staticmethod
    def _split_existing(
        cur: sqlite3.Cursor, tasks: Sequence[NewTask]
    ) -> tuple[set[str], dict[tuple[str, str], tuple[str, Any]]]:
        pairs = [[t.name, t.key] for t in tasks if t.key is not None]
        found = cur.execute(Q["find_by_keys"], {"pairs": codec.dumps(pairs)}).fetchall()
        holders = {
            (name, key): (task_id, codec.loads(payload)) for task_id, name, key, payload in found
        }
        requested = {t.id for t in tasks}
        inserted = {task_id for task_id, _ in holders.values() if task_id in requested}
        inserted |= {t.id for t in tasks if t.key is None}
        return inserted, holders
