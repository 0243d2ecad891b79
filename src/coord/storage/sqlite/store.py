"""The SQLite store: the embedded default, one file, no server. The task queue lives
here; mailboxes in :mod:`.mailbox`, the connection and transactions in
:mod:`.connection`.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from coord.domain import codec
from coord.domain.limits import Candidate, admit
from coord.domain.steps import StepReset
from coord.domain.tasks import (
    ClaimedTask,
    EnqueueResult,
    NewTask,
    Outcome,
    Renewal,
    TaskPolicy,
    TaskState,
    policy_to_dict,
)
from coord.domain.views import QueueStats
from coord.ports.store import SchemaStatus
from coord.storage.migrations import migrations_of, split_statements, target_version
from coord.storage.rows import events as ev
from coord.storage.rows import tasks as task_rows
from coord.storage.shared.tasks import TaskReadsWrittenOnce
from coord.storage.sql import read_sql
from coord.storage.sqlite.connection import PACKAGE, Q, claimed_task
from coord.storage.sqlite.events import SqliteEvents
from coord.storage.sqlite.ledger import SqliteLedger
from coord.storage.sqlite.mailbox import SqliteMailbox
from coord.storage.sqlite.runs import SqliteRuns
from coord.storage.sqlite.security import SqliteSecurity

logger = logging.getLogger(__name__)


class SqliteStore(
    SqliteMailbox, SqliteRuns, SqliteSecurity, SqliteLedger, SqliteEvents, TaskReadsWrittenOnce
):
    """A coord database in one SQLite file (or in memory when ``path`` is None)."""

    _task_queries = Q

    dialect = "sqlite"
    io_threads = 1

    # -- schema ---------------------------------------------------------------------
    def schema_status(self) -> SchemaStatus:
        """The schema version found (0 when coord never ran here) and the one needed."""
        with self._errors(), self._read() as cur:
            tables = cur.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'coord_migrations'"
            ).fetchone()[0]
            current = cur.execute(Q["schema_version"]).fetchone()[0] if tables else 0
        return SchemaStatus(current=current, target=target_version(PACKAGE))

    def upgrade(self, *, via_migrations: bool = False) -> list[int]:
        """Create the schema on a new database, or apply the missing migrations."""
        with self._errors(), self._tx() as (cur, now):
            cur.execute(Q["create_migrations_table"])
            current = cur.execute(Q["schema_version"]).fetchone()[0]
            fresh = (
                not via_migrations
                and current == 0
                and not cur.execute(Q["has_tasks_table"]).fetchone()[0]
            )
            pending = [m for m in migrations_of(PACKAGE) if m.version > current]
            if fresh:
                for statement in split_statements(read_sql(PACKAGE, "schema.sql")):
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
        with self._errors(), self._tx() as (cur, now):
            results = self._insert_tasks(cur, tasks, actor, now)
        if any(t.run_at is None and t.delay <= 0 for t in tasks):
            self.signals.fire_due()
        return results

    def register_policies(self, policies: Sequence[TaskPolicy]) -> None:
        """Record policies, create or resize their rate buckets, and give agent handlers
        a task for every open message delivered before they were registered."""
        with self._errors(), self._tx() as (cur, now):
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
            self._enqueue_handler_backlog(cur, policies, now)

    # -- running --------------------------------------------------------------------
    def claim(
        self, owner: str, queues: Sequence[str], limit: int, lease_seconds: float
    ) -> list[ClaimedTask]:
        """Lease due tasks in claim order; limited ones only as their keys allow."""
        with self._errors(), self._tx(durable=False) as (cur, now):
            if len(queues) == 1:
                params: dict[str, Any] = {"queue": queues[0], "now": now, "limit": limit}
                rows = cur.execute(Q["claim_candidates_one_queue"], params).fetchall()
            else:
                params = {"queues": codec.dumps(list(queues)), "now": now, "limit": limit}
                rows = cur.execute(Q["claim_candidates_many_queues"], params).fetchall()
            if not rows:
                return []
            candidates = [Candidate(*row) for row in rows]
            if any(task_rows.is_limited(c) for c in candidates):
                ids = self._admit(cur, candidates, now)
            else:
                ids = [c.id for c in candidates]
            claimed = cur.execute(
                Q["claim_rows"],
                {"ids": codec.dumps(ids), "owner": owner, "now": now, "lease": lease_seconds},
            ).fetchall()
            self._insert_events(cur, [ev.task_started(r[0], r[4], owner) for r in claimed], now)
        order = {task_id: i for i, task_id in enumerate(ids)}
        claimed.sort(key=lambda r: order[r[0]])
        return [claimed_task(r) for r in claimed]

    @staticmethod
    def _admit(cur: sqlite3.Cursor, candidates: list[Candidate], now: float) -> list[str]:
        """Admission under the write lock: counts and tokens cannot change under us."""
        keys, rate_keys = task_rows.limited_keys(candidates)
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
        accepted: set[str] = set()
        of_runs: dict[str, tuple[str, str]] = {}  # task id -> (run id, phase)
        with self._errors(), self._fenced_tx(durable=False) as (cur, now, asked):
            for r in renewals:
                u = r.usage
                row = cur.execute(
                    Q["renew"],
                    {
                        "id": r.task_id,
                        "attempt": r.attempt,
                        "owner": owner,
                        "now": now,
                        "asked": asked,
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
                    if row[1] is not None:
                        of_runs[row[0]] = (row[1], row[2])
            self._insert_events(cur, ev.progress_events(renewals, accepted, owner, of_runs), now)
        return accepted

    def complete(self, owner: str, outcomes: Sequence[Outcome]) -> set[str]:
        """Record outcomes (fenced) with their events in one transaction."""
        if not outcomes:
            return set()
        with self._errors(), self._fenced_tx() as (cur, now, asked):
            accepted = self._complete_on(cur, owner, outcomes, now, asked)
        self._signal_outcomes(outcomes, accepted)
        return accepted

    def save_checkpoint(self, owner: str, task_id: str, attempt: int, data_json: str) -> bool:
        """Persist a continuation (fenced)."""
        with self._errors(), self._fenced_tx() as (cur, now, asked):
            cur.execute(
                Q["save_checkpoint"],
                {
                    "id": task_id,
                    "attempt": attempt,
                    "owner": owner,
                    "asked": asked,
                    "data": data_json,
                },
            )
            if cur.rowcount != 1:
                return False
            self._insert_events(cur, [ev.task_checkpointed(task_id, owner, data_json)], now)
        return True

    def record_step(
        self, owner: str, task_id: str, attempt: int, name: str, result_json: str
    ) -> bool:
        """Record one step result (fenced)."""
        with self._errors(), self._fenced_tx() as (cur, now, asked):
            cur.execute(
                Q["record_step"],
                {
                    "id": task_id,
                    "attempt": attempt,
                    "owner": owner,
                    "name": name,
                    "result": result_json,
                    "now": now,
                    "asked": asked,
                },
            )
            return cur.rowcount == 1

    def recover_expired(self) -> int:
        """Send expired leases back to pending (or dead), with their events."""
        with self._errors(), self._tx(durable=False) as (cur, now):
            rows = cur.execute(Q["recover_expired"], {"now": now}).fetchall()
            self._insert_events(cur, ev.recovery_events(rows), now)
        if rows:
            self.signals.fire_due()
            self.signals.fire_done()
        return len(rows)

    # -- operating ------------------------------------------------------------------
    def cancel(self, task_id: str, actor: str | None) -> bool:
        """Cancel a pending, retrying or running task; True if this call did."""
        with self._errors(), self._tx() as (cur, now):
            cancelled = cur.execute(Q["cancel"], {"id": task_id, "now": now}).fetchone()
            if cancelled is not None:
                self._insert_events(cur, [ev.task_cancelled(task_id, actor)], now)
        if cancelled is not None:
            self.signals.fire_done()
        return cancelled is not None

    def queue_stats(self) -> list[QueueStats]:
        """Per-queue counts and oldest due age."""
        now = time.time()
        with self._errors(), self._read() as cur:
            counts = cur.execute(Q["counts_per_queue"]).fetchall()
            ages = cur.execute(Q["oldest_due_per_queue"], {"now": now}).fetchall()
        return task_rows.queue_stats(counts, ages)

    def retry_tasks(
        self,
        task_ids: Sequence[str] | None,
        states: Sequence[TaskState],
        reset: StepReset | None,
        actor: str | None,
    ) -> list[str]:
        """Make tasks pending again with a fresh set of attempts, resetting steps."""
        params = {
            "all": task_ids is None,
            "ids": codec.dumps(list(task_ids or [])),
            "states": codec.dumps([s.value for s in states]),
            "reset": reset is not None,
        }
        with self._errors(), self._tx() as (cur, now):
            rows = cur.execute(Q["retry_tasks"], {**params, "now": now}).fetchall()
            retried = [row[0] for row in rows]
            deleted: dict[str, list[str]] = {}
            if reset is not None and retried:
                recorded = cur.execute(Q["steps_of_tasks"], {"ids": codec.dumps(retried)})
                deleted = task_rows.steps_to_reset(reset, recorded.fetchall())
                pairs = [(task_id, key) for task_id, keys in deleted.items() for key in keys]
                cur.executemany(Q["delete_step"], pairs)
            self._insert_events(cur, ev.replayed_events(retried, reset, deleted, actor), now)
        if retried:
            self.signals.fire_due()
        return retried
