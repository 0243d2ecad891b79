"""The PostgreSQL connection pool both halves of the store share. Most operations are
one statement on an autocommit connection (data-modifying CTEs write a change and its
event together); the rest run in explicit transactions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool, PoolTimeout

from coord.domain import codec
from coord.domain.tasks import ClaimedTask, EnqueueResult, NewTask, Outcome
from coord.errors import CoordError, InvalidInput, StoreError, StoreUnavailable
from coord.storage.rows import events as ev
from coord.storage.rows import tasks as task_rows
from coord.storage.rows.reader import TASK_COLUMNS, RowReader
from coord.storage.shared.session import Dialect, Params
from coord.storage.sql import load_queries, specialize, take_fragment

logger = logging.getLogger(__name__)

PACKAGE = __package__ or "coord.storage.postgres"
_IDLE_CHECK_AFTER = 1.0  # seconds a pooled connection may idle before it is pinged

_QUERIES = load_queries(PACKAGE)
#: The fenced recording of task outcomes (CTEs ``o`` and ``done``), with a placeholder
#: ``{also_fenced_by}`` for a further condition: one text for ``complete`` and for the
#: runs' ``complete_and_snapshot``, so that both fence the same way.
FENCED_OUTCOMES = take_fragment(_QUERIES, "fenced_outcomes")

Q = specialize(
    _QUERIES,
    {
        "task_columns": TASK_COLUMNS,
        "fenced_outcomes": FENCED_OUTCOMES.replace("{also_fenced_by}", "TRUE"),
    },
    "queue_filter",
    {"one_queue": "queue = %(queue)s", "many_queues": "queue = ANY(%(queues)s::text[])"},
)


def configure_connection(conn: psycopg.Connection[Any]) -> None:
    """UUIDs come back as text and JSON is decoded by orjson."""
    conn.adapters.register_loader("uuid", TextLoader)
    set_json_loads(codec.loads, conn)


class PostgresSession:
    """A :class:`~coord.storage.shared.session.Session` on one pooled connection
    (autocommitted, or in the caller's transaction)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def one(self, sql: str, params: Params | None = None) -> Sequence[Any] | None:
        """The first row of ``sql``."""
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Params | None = None) -> list[Sequence[Any]]:
        """Every row of ``sql``."""
        return list(self.conn.execute(sql, params).fetchall())

    def count(self, sql: str, params: Params | None = None) -> int:
        """Run a write; the rows it changed."""
        return self.conn.execute(sql, params).rowcount

    def events(self, rows: Sequence[ev.Event]) -> None:
        """Insert events in this session's transaction."""
        PostgresConnection._insert_events(self.conn, rows)


class PostgresConnection(Dialect):
    """A psycopg 3 connection pool and the transactions, error wrapping and inserts
    that both halves of the store (tasks, mailboxes) share."""

    _reader = RowReader()

    def __init__(
        self, conninfo: str, *, min_size: int = 1, max_size: int = 10, fast_claims: bool = True
    ) -> None:
        self.conninfo = conninfo
        # 'off' lets claims, renewals and recovery commit without waiting for the WAL
        # flush; None keeps the session's setting.
        self._commit = "off" if fast_claims else None

        self._returned_at: dict[int, float] = {}
        self._max_size = max_size
        _probe(conninfo)
        self._pool = ConnectionPool(
            conninfo,
            min_size=min(min_size, max_size),
            max_size=max_size,
            configure=configure_connection,
            kwargs={"autocommit": True},
            reset=self._mark_returned,
            open=False,
            name="coord",
        )
        try:
            self._pool.open(wait=min_size > 0, timeout=10.0)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc

    # -- plumbing -------------------------------------------------------------------
    def _mark_returned(self, conn: psycopg.Connection[Any]) -> None:
        self._returned_at[id(conn)] = time.monotonic()

    def _checkout(self) -> psycopg.Connection[Any]:
        """A live pooled connection.

        Connections that idled a while are pinged first: after a server restart or a
        terminated backend every pooled connection may be dead, and each is dropped
        and the next one tried at once. (The pool's own ``check=`` hook would sleep
        with an exponential backoff after each failed check.)"""
        for _ in range(self._max_size + 1):
            conn = self._pool.getconn(timeout=30.0)
            idle = time.monotonic() - self._returned_at.get(id(conn), 0.0)
            if idle <= _IDLE_CHECK_AFTER:
                return conn
            try:
                conn.execute("")
                return conn
            except psycopg.Error:
                logger.info("dropping a dead pooled PostgreSQL connection")
                self._returned_at.pop(id(conn), None)
                self._pool.putconn(conn)  # closed: the pool discards and replaces it
        raise StoreUnavailable("PostgreSQL unavailable: every pooled connection is dead")

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in autocommit mode: each statement is its own transaction.

        Most operations are one statement (data-modifying CTEs write a change and its
        event together), so they cost one round trip instead of BEGIN/query/COMMIT."""
        try:
            conn = self._checkout()
            try:
                yield conn
            finally:
                self._pool.putconn(conn)
        except CoordError:
            raise
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailable(f"PostgreSQL unavailable: {exc}") from exc
        except psycopg.DataError as exc:  # a value PostgreSQL cannot hold, e.g. a NUL
            raise InvalidInput(f"PostgreSQL cannot store a value given: {exc}") from exc
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL: {exc}") from exc

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        """An explicit transaction, for operations made of several statements."""
        with self._conn() as conn, conn.transaction():
            yield conn

    @staticmethod
    def _insert_events(conn: psycopg.Connection[Any], rows: Sequence[ev.Event]) -> None:
        """Insert events built by :mod:`coord.storage.rows.events` (on ``conn``, in the
        caller's transaction)."""
        if rows:
            conn.execute(Q["insert_events"], {"events": ev.as_json_rows(rows)})

    def _dict_rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows of a read as dicts by column name."""
        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(sql, params).fetchall()

    @contextmanager
    def _reading(self) -> Iterator[PostgresSession]:
        """A session on an autocommit connection: one transaction per statement."""
        with self._conn() as conn:
            yield PostgresSession(conn)

    @contextmanager
    def _writing(self, *, durable: bool = True, atomic: bool = True) -> Iterator[PostgresSession]:
        """A session in one transaction (``atomic=False``: autocommitted statements).
        Durability is the database's: PostgreSQL commits every write to the WAL."""
        with self._tx() if atomic else self._conn() as conn:
            yield PostgresSession(conn)

    def _id_list(self, ids: list[str]) -> Any:
        """Lists travel as arrays."""
        return ids

    def _insert_tasks(
        self, conn: psycopg.Connection[Any], tasks: Sequence[NewTask], actor: str | None
    ) -> list[EnqueueResult]:
        """Insert tasks and their events on ``conn`` (in the caller's transaction when
        any task has a key); resolve idempotency keys (see ``Store.enqueue``)."""
        raw = codec.raw
        rows = codec.dumps(
            [
                [
                    t.id,
                    t.name,
                    t.queue,
                    t.priority,
                    raw(t.payload_json),
                    t.key,
                    t.delay,
                    t.run_at,
                    *task_rows.policy_columns(t),
                ]
                for t in tasks
            ]
        )
        params = {"rows": rows, "events": ev.as_json_rows(ev.enqueued_events(tasks, actor))}
        inserted = {row[0] for row in conn.execute(Q["enqueue"], params).fetchall()}
        existing: dict[tuple[str, str], tuple[str, Any]] = {}
        if len(inserted) != len(tasks):
            skipped = [t for t in tasks if t.key is not None and t.id not in inserted]
            found = conn.execute(
                Q["find_by_keys"],
                {"names": [t.name for t in skipped], "keys": [t.key for t in skipped]},
            ).fetchall()
            existing = {(name, key): (task_id, payload) for task_id, name, key, payload in found}
        return task_rows.resolve_enqueue(tasks, inserted, existing)


def complete_rows(outcomes: Sequence[Outcome]) -> str:
    """Outcomes as the positional JSON rows the ``complete`` query takes."""
    raw = codec.raw
    return codec.dumps(
        [
            [
                o.task_id,
                o.attempt,
                o.state.value,
                raw(o.result_json),
                raw(o.error_json),
                o.delay,
                o.extra_attempts,
                o.topic,
                raw(o.event_json),
                o.usage.tokens_in,
                o.usage.tokens_out,
                o.usage.usd_micros,
                o.usage.tool_seconds,
            ]
            for o in outcomes
        ]
    )


def claimed_task(r: Sequence[Any]) -> ClaimedTask:
    """A claimed row (id, name, queue, payload, attempt, max_attempts, retry_backoff,
    retry_backoff_max, timeout_s, heartbeat_s, stall_after, checkpoint, priority,
    error, run_id, phase, run_step, run_input) as a :class:`ClaimedTask`."""
    return ClaimedTask(
        id=r[0],
        name=r[1],
        queue=r[2],
        payload=r[3],
        attempt=r[4],
        max_attempts=r[5],
        retry_backoff=r[6],
        retry_backoff_max=r[7],
        timeout=r[8],
        heartbeat=r[9],
        stall_after=r[10],
        checkpoint=r[11],
        last_error=r[13],
        run_id=r[14],
        phase=r[15],
        run_step=r[16],
        run_input=r[17],
    )


def scalar(row: tuple[Any, ...] | None) -> Any:
    return None if row is None else row[0]


def _probe(conninfo: str) -> None:
    """Connect once before opening the pool, so that a wrong address, database or
    password fails at once with its cause; the pool would retry until its timeout
    and then report only that it timed out."""
    params = conninfo_to_dict(conninfo)
    where = f"{params.get('dbname', '?')!r} at {params.get('host', 'localhost')}"
    try:
        psycopg.connect(conninfo, connect_timeout=10).close()
    except psycopg.OperationalError as exc:
        cause = " ".join(str(exc).split())  # libpq's message spans several lines
        raise StoreUnavailable(f"cannot connect to PostgreSQL database {where}: {cause}") from exc
