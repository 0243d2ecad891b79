"""The SQLite store: the embedded default, one file, no server.

One connection per store, guarded by a lock: SQLite has a single writer per file, so
more connections in one process would only wait on each other. Writes run in
``BEGIN IMMEDIATE`` transactions (the write lock is taken up front, so a transaction
never fails half-way on a lock upgrade); other processes wait up to ``busy_timeout``.
WAL lets readers run beside the writer; ``synchronous=FULL`` makes every commit
durable by default.
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

from coord.domain import codec, events
from coord.domain.limits import Candidate, admit
from coord.domain.tasks import (
    ClaimedTask,
    EnqueueResult,
    NewTask,
    Outcome,
    Renewal,
    TaskPolicy,
    TaskState,
    policy_from_dict,
    policy_to_dict,
)
from coord.domain.views import DeadLetterGroup, EventInfo, QueueStats, TaskInfo
from coord.errors import CoordError, StoreError, StoreUnavailable
from coord.ports.store import SchemaStatus, TaskFilter
from coord.storage import common
from coord.storage.migrations import migrations_of, split_statements, target_version
from coord.storage.records import TASK_COLUMNS, RowReader, epoch_to_datetime, json_text_to_value
from coord.storage.signals import WriteSignals
from coord.storage.sql import load_queries, read_sql, specialize

logger = logging.getLogger(__name__)

_PACKAGE = __package__ or "coord.storage.sqlite"
_READER = RowReader(json_value=json_text_to_value, when=epoch_to_datetime)


Q = specialize(
    load_queries(_PACKAGE),
    {"task_columns": TASK_COLUMNS},
    "queue_filter",
    {
        "one_queue": "queue = :queue",
        "many_queues": "queue IN (SELECT value FROM json_each(:queues))",
    },
)


class SqliteStore:
    """A coord database in one SQLite file (or in memory when ``path`` is None)."""

    dialect = "sqlite"
    io_threads = 1

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
    def _tx(self, *, durable: bool = True) -> Iterator[sqlite3.Cursor]:
        """A write transaction holding the file's write lock from the start.

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
                    yield cur
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

    def _begin(self, cur: sqlite3.Cursor) -> None:
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(
                f"SQLite database is locked by another writer ({exc}); "
                f"waited {self._busy_timeout:g}s"
            ) from exc

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
    def _insert_events(cur: sqlite3.Cursor, rows: list[common.EventRow], now: float) -> None:
        if rows:
            cur.executemany(Q["insert_event"], [(*row, now) for row in rows])

    # -- schema ---------------------------------------------------------------------
    def schema_status(self) -> SchemaStatus:
        """The schema version found (0 when coord never ran here) and the one needed."""
        with self._errors(), self._read() as cur:
            tables = cur.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'coord_migrations'"
            ).fetchone()[0]
            current = cur.execute(Q["schema_version"]).fetchone()[0] if tables else 0
        return SchemaStatus(current=current, target=target_version(_PACKAGE))

    def upgrade(self, *, via_migrations: bool = False) -> list[int]:
        """Create the schema on a new database, or apply the missing migrations."""
        now = time.time()
        with self._errors(), self._tx() as cur:
            cur.execute(Q["create_migrations_table"])
            current = cur.execute(Q["schema_version"]).fetchone()[0]
            fresh = (
                not via_migrations
                and current == 0
                and not cur.execute(Q["has_tasks_table"]).fetchone()[0]
            )
            pending = [m for m in migrations_of(_PACKAGE) if m.version > current]
            if fresh:
                for statement in split_statements(read_sql(_PACKAGE, "schema.sql")):
                    cur.execute(statement)
            else:
                for migration in pending:
                    for statement in split_statements(migration.sql):
                        cur.execute(statement)
            for migration in pending:
                cur.execute(
                    Q["stamp_migration"],
                    {"version": migration.version, "name": migration.name, "now": now},
                )
        return [m.version for m in pending]

    # -- producing ------------------------------------------------------------------
    def enqueue(self, tasks: Sequence[NewTask], actor: str | None) -> list[EnqueueResult]:
        """Insert tasks and their events; resolve idempotency keys (see the port)."""
        if not tasks:
            return []
        now = time.time()
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
                *common.policy_columns(t),
            )
            for t in tasks
        ]
        with self._errors(), self._tx() as cur:
            cur.executemany(Q["insert_task"], rows)
            if cur.rowcount == len(rows):
                inserted = {t.id for t in tasks}
                existing: dict[tuple[str, str], tuple[str, Any]] = {}
            else:
                inserted, existing = self._split_existing(cur, tasks)
            results = common.resolve_enqueue(tasks, inserted, existing)
            self._insert_events(
                cur, common.enqueued_events((r.id for r in results if r.created), actor), now
            )
        if any(t.run_at is None and t.delay <= 0 for t in tasks):
            self.signals.fire_due()
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

    def register_policies(self, policies: Sequence[TaskPolicy]) -> None:
        """Record policies and create or resize their rate buckets."""
        now = time.time()
        with self._errors(), self._tx() as cur:
            for policy in policies:
                cur.execute(
                    Q["upsert_policy"],
                    {
                        "name": policy.name,
                        "policy": codec.dumps(policy_to_dict(policy)),
                        "now": now,
                    },
                )
                if policy.rate_limit is not None:
                    cur.execute(
                        Q["upsert_bucket"],
                        {
                            "key": policy.rate_key,
                            "capacity": policy.rate_limit.capacity,
                            "per_second": policy.rate_limit.per_second,
                            "now": now,
                        },
                    )

    def get_policy(self, name: str) -> TaskPolicy | None:
        """The registered policy of ``name``."""
        with self._errors(), self._read() as cur:
            row = cur.execute(Q["get_policy"], {"name": name}).fetchone()
        return None if row is None else policy_from_dict(codec.loads(row[0]))

    # -- running --------------------------------------------------------------------
    def claim(
        self, owner: str, queues: Sequence[str], limit: int, lease_seconds: float
    ) -> list[ClaimedTask]:
        """Lease due tasks in claim order; limited ones only as their keys allow."""
        now = time.time()
        with self._errors(), self._tx(durable=False) as cur:
            if len(queues) == 1:
                params: dict[str, Any] = {"queue": queues[0], "now": now, "limit": limit}
                rows = cur.execute(Q["claim_candidates_one_queue"], params).fetchall()
            else:
                params = {"queues": codec.dumps(list(queues)), "now": now, "limit": limit}
                rows = cur.execute(Q["claim_candidates_many_queues"], params).fetchall()
            if not rows:
                return []
            candidates = [Candidate(*row) for row in rows]
            if any(common.is_limited(c) for c in candidates):
                ids = self._admit(cur, candidates, now)
            else:
                ids = [c.id for c in candidates]
            claimed = cur.execute(
                Q["claim_rows"],
                {"ids": codec.dumps(ids), "owner": owner, "now": now, "lease": lease_seconds},
            ).fetchall()
            self._insert_events(
                cur, [common.started_event(r[0], r[4], owner) for r in claimed], now
            )
        order = {task_id: i for i, task_id in enumerate(ids)}
        claimed.sort(key=lambda r: order[r[0]])
        return [
            ClaimedTask(
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
            )
            for r in claimed
        ]

    @staticmethod
    def _admit(cur: sqlite3.Cursor, candidates: list[Candidate], now: float) -> list[str]:
        """Admission under the write lock: counts and tokens cannot change under us."""
        keys, rate_keys = common.limited_keys(candidates)
        running = dict(cur.execute(Q["running_per_key"], {"keys": codec.dumps(keys)}).fetchall())
        tokens = dict(
            cur.execute(Q["bucket_tokens"], {"keys": codec.dumps(rate_keys), "now": now}).fetchall()
        )
        admission = admit(candidates, running, tokens)
        for key, taken in admission.tokens_taken.items():
            cur.execute(Q["take_tokens"], {"key": key, "taken": taken, "now": now})
        return admission.task_ids

    def seconds_until_due(self, queues: Sequence[str]) -> float | None:
        """Seconds until the next waiting task is due."""
        with self._errors(), self._read() as cur:
            (next_at,) = cur.execute(
                Q["next_run_at"], {"queues": codec.dumps(list(queues))}
            ).fetchone()
        return None if next_at is None else max(0.0, next_at - time.time())

    def renew(self, owner: str, renewals: Sequence[Renewal], lease_seconds: float) -> set[str]:
        """Extend leases (fenced) with heartbeats and usage."""
        if not renewals:
            return set()
        now = time.time()
        accepted: set[str] = set()
        with self._errors(), self._tx(durable=False) as cur:
            for r in renewals:
                u = r.usage
                row = cur.execute(
                    Q["renew"],
                    {
                        "id": r.task_id,
                        "attempt": r.attempt,
                        "owner": owner,
                        "now": now,
                        "lease": lease_seconds,
                        "beat": r.beat,
                        "progress": r.progress,
                        "message": r.message,
                        "tokens_in": u.tokens_in,
                        "tokens_out": u.tokens_out,
                        "usd_micros": u.usd_micros,
                        "tool_seconds": u.tool_seconds,
                    },
                ).fetchone()
                if row is not None:
                    accepted.add(row[0])
            self._insert_events(cur, common.progress_events(renewals, accepted, owner), now)
        return accepted

    def complete(self, owner: str, outcomes: Sequence[Outcome]) -> set[str]:
        """Record outcomes (fenced) with their events in one transaction."""
        if not outcomes:
            return set()
        now = time.time()
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
        with self._errors(), self._tx() as cur:
            accepted = {
                row[0]
                for row in cur.execute(
                    Q["complete"], {"outcomes": packed, "owner": owner, "now": now}
                ).fetchall()
            }
            self._insert_events(cur, common.outcome_events(outcomes, accepted, owner), now)
        self._signal_outcomes(outcomes, accepted)
        return accepted

    def _signal_outcomes(self, outcomes: Sequence[Outcome], accepted: set[str]) -> None:
        if not accepted:
            return
        self.signals.fire_done()
        if any(o.task_id in accepted and o.state is TaskState.PENDING for o in outcomes):
            self.signals.fire_due()

    def save_checkpoint(self, owner: str, task_id: str, attempt: int, data_json: str) -> bool:
        """Persist a continuation (fenced)."""
        now = time.time()
        with self._errors(), self._tx() as cur:
            cur.execute(
                Q["save_checkpoint"],
                {"id": task_id, "attempt": attempt, "owner": owner, "now": now, "data": data_json},
            )
            if cur.rowcount != 1:
                return False
            self._insert_events(cur, [(events.TASK_CHECKPOINTED, task_id, owner, None)], now)
        return True

    def load_steps(self, task_id: str) -> dict[str, str]:
        """Recorded step results by step name."""
        with self._errors(), self._read() as cur:
            return dict(cur.execute(Q["load_steps"], {"task_id": task_id}).fetchall())

    def record_step(
        self, owner: str, task_id: str, attempt: int, name: str, result_json: str
    ) -> bool:
        """Record one step result (fenced)."""
        with self._errors(), self._tx() as cur:
            cur.execute(
                Q["record_step"],
                {
                    "id": task_id,
                    "attempt": attempt,
                    "owner": owner,
                    "name": name,
                    "result": result_json,
                    "now": time.time(),
                },
            )
            return cur.rowcount == 1

    def recover_expired(self) -> int:
        """Send expired leases back to pending (or dead), with their events."""
        now = time.time()
        with self._errors(), self._tx(durable=False) as cur:
            rows = cur.execute(Q["recover_expired"], {"now": now}).fetchall()
            self._insert_events(cur, common.recovery_events(rows), now)
        if rows:
            self.signals.fire_due()
            self.signals.fire_done()
        return len(rows)

    # -- operating ------------------------------------------------------------------
    def _dict_rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._errors(), self._read() as cur:
            cur.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def get_task(self, task_id: str) -> TaskInfo | None:
        """One task by id."""
        rows = self._dict_rows(Q["get_task"], {"id": task_id})
        return _READER.task(rows[0]) if rows else None

    def list_tasks(self, task_filter: TaskFilter) -> list[TaskInfo]:
        """Tasks matching the filter, newest first."""
        params = {
            "state": None if task_filter.state is None else task_filter.state.value,
            "queue": task_filter.queue,
            "name": task_filter.name,
            "limit": task_filter.limit,
        }
        return [_READER.task(row) for row in self._dict_rows(Q["list_tasks"], params)]

    def task_events(self, task_id: str) -> list[EventInfo]:
        """A task's events, oldest first."""
        return [_READER.event(row) for row in self._dict_rows(Q["task_events"], {"id": task_id})]

    def cancel(self, task_id: str, actor: str | None) -> bool:
        """Cancel a pending, retrying or running task; True if this call did."""
        now = time.time()
        with self._errors(), self._tx() as cur:
            cancelled = cur.execute(Q["cancel"], {"id": task_id, "now": now}).fetchone()
            if cancelled is not None:
                self._insert_events(cur, [(events.TASK_CANCELLED, task_id, actor, None)], now)
        if cancelled is not None:
            self.signals.fire_done()
        return cancelled is not None

    def queue_stats(self) -> list[QueueStats]:
        """Per-queue counts and oldest due age."""
        now = time.time()
        with self._errors(), self._read() as cur:
            counts = cur.execute(Q["counts_per_queue"]).fetchall()
            ages = cur.execute(Q["oldest_due_per_queue"], {"now": now}).fetchall()
        return common.queue_stats(counts, ages)

    def dead_letter_groups(self) -> list[DeadLetterGroup]:
        """Dead tasks grouped by error type and message."""
        return [_READER.dead_letter_group(r) for r in self._dict_rows(Q["dead_letter_groups"], {})]

    def replay_dead(self, task_ids: Sequence[str] | None, actor: str | None) -> list[str]:
        """Make dead tasks pending again with a fresh set of attempts."""
        now = time.time()
        params = {"all": task_ids is None, "ids": codec.dumps(list(task_ids or [])), "now": now}
        with self._errors(), self._tx() as cur:
            replayed = [row[0] for row in cur.execute(Q["replay_dead"], params).fetchall()]
            self._insert_events(
                cur, [(events.TASK_REPLAYED, task_id, actor, None) for task_id in replayed], now
            )
        if replayed:
            self.signals.fire_due()
        return replayed
