"""The PostgreSQL store: many workers on many machines, one database.

Claims use ``FOR UPDATE SKIP LOCKED`` so workers never wait on each other's rows;
batches travel as arrays in one statement each; wake-ups use ``NOTIFY`` from inside
the writing transaction, so a listener never hears of a row it cannot see yet.
Times come from the database clock, so workers on machines with skewed clocks
still agree on leases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

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
from coord.storage.postgres.connection import PACKAGE, Q, claimed_task, complete_rows, scalar
from coord.storage.postgres.events import PostgresEvents
from coord.storage.postgres.ledger import PostgresLedger
from coord.storage.postgres.mailbox import PostgresMailbox
from coord.storage.postgres.runs import PostgresRuns
from coord.storage.postgres.security import PostgresSecurity
from coord.storage.rows import events as ev
from coord.storage.rows import tasks as task_rows
from coord.storage.shared.tasks import TaskReadsWrittenOnce
from coord.storage.sql import read_sql


class PostgresStore(
    PostgresMailbox,
    PostgresRuns,
    PostgresSecurity,
    PostgresLedger,
    PostgresEvents,
    TaskReadsWrittenOnce,
):
    """A coord database on PostgreSQL, through a psycopg 3 connection pool."""

    _task_queries = Q

    dialect = "postgres"
    io_threads = 4

    # -- schema ---------------------------------------------------------------------
    def schema_status(self) -> SchemaStatus:
        """The schema version found (0 when coord never ran here) and the one needed."""
        with self._conn() as conn:
            row = conn.execute(Q["has_migrations_table"]).fetchone()
            current = 0
            if row is not None and row[0]:
                version = conn.execute(Q["schema_version"]).fetchone()
                current = 0 if version is None else version[0]
        return SchemaStatus(current=current, target=target_version(PACKAGE))

    def upgrade(self, *, via_migrations: bool = False) -> list[int]:
        """Create the schema on a new database, or apply the missing migrations.

        Concurrent upgrades queue on a transaction lock; the second finds nothing to do.
        """
        with self._tx() as conn:
            conn.execute(Q["lock_migrations"])
            conn.execute(Q["create_migrations_table"])
            current = scalar(conn.execute(Q["schema_version"]).fetchone())
            fresh = (
                not via_migrations
                and current == 0
                and not scalar(conn.execute(Q["has_tasks_table"]).fetchone())
            )
            pending = [m for m in migrations_of(PACKAGE) if m.version > current]
            scripts = [read_sql(PACKAGE, "schema.sql")] if fresh else [m.sql for m in pending]
            for script in scripts:
                for statement in split_statements(script):
                    conn.execute(statement.encode())
            for migration in pending:
                conn.execute(
                    Q["stamp_migration"], {"version": migration.version, "name": migration.name}
                )
        return [m.version for m in pending]

    # -- producing ------------------------------------------------------------------
    def enqueue(self, tasks: Sequence[NewTask], actor: str | None) -> list[EnqueueResult]:
        """Insert tasks and their events in one statement; resolve idempotency keys."""
        if not tasks:
            return []
        # Without keys nothing can conflict: one autocommitted statement does it all.
        any_key = any(t.key is not None for t in tasks)
        with self._tx() if any_key else self._conn() as conn:
            return self._insert_tasks(conn, tasks, actor)

    def register_policies(self, policies: Sequence[TaskPolicy]) -> None:
        """Record policies, create or resize their rate buckets, and give agent handlers
        a task for every open message delivered before they were registered."""
        with self._tx() as conn:
            for policy in policies:
                conn.execute(
                    Q["upsert_policy"],
                    {"name": policy.name, "policy": codec.dumps(policy_to_dict(policy))},
                )
                if policy.rate_limit is not None:
                    conn.execute(
                        Q["upsert_bucket"],
                        {
                            "key": policy.rate_key,
                            "capacity": policy.rate_limit.capacity,
                            "per_second": policy.rate_limit.per_second,
                        },
                    )
            self._enqueue_handler_backlog(conn, policies)

    # -- running --------------------------------------------------------------------
    def claim(
        self, owner: str, queues: Sequence[str], limit: int, lease_seconds: float
    ) -> list[ClaimedTask]:
        """Lease due tasks; unlimited ones in one statement, limited ones after admission."""
        params: dict[str, Any] = {
            "owner": owner,
            "limit": limit,
            "lease": lease_seconds,
            "commit": self._commit,
            **_started_template(owner),
        }
        if len(queues) == 1:
            params["queue"] = queues[0]
            sql = Q["claim_one_queue"]
        else:
            params["queues"] = list(queues)
            sql = Q["claim_many_queues"]
        with self._conn() as conn:
            rows = conn.execute(sql, params).fetchall()
        claimed = [r for r in rows if r[1] is not None]
        limited = [r[0] for r in rows if r[1] is None]
        if limited:
            with self._tx() as conn:
                claimed += self._claim_limited(conn, owner, limited, lease_seconds)
        claimed.sort(key=lambda r: (-r[12], r[0]))
        return [claimed_task(r) for r in claimed]

    def _claim_limited(
        self, conn: psycopg.Connection[Any], owner: str, ids: list[str], lease_seconds: float
    ) -> list[tuple[Any, ...]]:
        """Claim candidates with concurrency keys or rate buckets, in one transaction:
        lock them again (others may have taken some), lock their keys and buckets,
        admit what the limits allow, claim that."""
        rows = conn.execute(Q["lock_candidates"], {"ids": ids}).fetchall()
        admitted = self._admit(conn, [Candidate(*row) for row in rows])
        if not admitted:
            return []
        params = {
            "ids": admitted,
            "owner": owner,
            "lease": lease_seconds,
            "commit": self._commit,
            **_started_template(owner),
        }
        return conn.execute(Q["claim_ids"], params).fetchall()

    @staticmethod
    def _admit(conn: psycopg.Connection[Any], candidates: list[Candidate]) -> list[str]:
        """Admission while holding the keys' transaction locks and the bucket rows."""
        keys, rate_keys = task_rows.limited_keys(candidates)
        running: dict[str, int] = {}
        if keys:
            conn.execute(Q["lock_keys"], {"keys": keys})
            running = dict(conn.execute(Q["running_per_key"], {"keys": keys}).fetchall())
        tokens: dict[str, float] = {}
        if rate_keys:
            tokens = dict(conn.execute(Q["lock_buckets"], {"keys": rate_keys}).fetchall())
        admission = admit(candidates, running, tokens)
        if admission.tokens_taken:
            conn.execute(
                Q["take_tokens"],
                {
                    "keys": list(admission.tokens_taken),
                    "taken": list(admission.tokens_taken.values()),
                },
            )
        return admission.task_ids

    def seconds_until_due(self, queues: Sequence[str]) -> float | None:
        """Seconds until the next waiting task is due."""
        with self._conn() as conn:
            row = conn.execute(Q["seconds_until_due"], {"queues": list(queues)}).fetchone()
        return None if row is None or row[0] is None else max(0.0, row[0])

    def renew(self, owner: str, renewals: Sequence[Renewal], lease_seconds: float) -> set[str]:
        """Extend leases (fenced) with heartbeats and usage, in one statement; heartbeats
        that report progress add their events in the same transaction."""
        if not renewals:
            return set()
        rows = codec.dumps(
            [
                [
                    r.task_id,
                    r.attempt,
                    r.beat,
                    r.progress,
                    r.message,
                    r.usage.tokens_in,
                    r.usage.tokens_out,
                    r.usage.usd_micros,
                    r.usage.tool_seconds,
                ]
                for r in renewals
            ]
        )
        params = {"rows": rows, "owner": owner, "lease": lease_seconds, "commit": self._commit}
        if not any(ev.reports_progress(r) for r in renewals):
            with self._conn() as conn:
                return {row[0] for row in conn.execute(Q["renew"], params).fetchall()}
        with self._tx() as conn:
            renewed = conn.execute(Q["renew"], params).fetchall()
            accepted = {row[0] for row in renewed}
            of_runs = {row[0]: (row[1], row[2]) for row in renewed if row[1] is not None}
            self._insert_events(conn, ev.progress_events(renewals, accepted, owner, of_runs))
        return accepted

    def complete(self, owner: str, outcomes: Sequence[Outcome]) -> set[str]:
        """Record outcomes (fenced) with their events and wake-ups, in one statement."""
        if not outcomes:
            return set()
        rows = complete_rows(outcomes)
        params = {"rows": rows, "owner": owner}
        with self._conn() as conn:
            return {row[0] for row in conn.execute(Q["complete"], params).fetchall()}

    def save_checkpoint(self, owner: str, task_id: str, attempt: int, data_json: str) -> bool:
        """Persist a continuation (fenced), with its event."""
        params = {
            "id": task_id,
            "attempt": attempt,
            "owner": owner,
            "data": data_json,
            "events": ev.as_json_rows([ev.task_checkpointed(task_id, owner, data_json)]),
        }
        with self._conn() as conn:
            return bool(scalar(conn.execute(Q["save_checkpoint"], params).fetchone()) == 1)

    def record_step(
        self, owner: str, task_id: str, attempt: int, name: str, result_json: str
    ) -> bool:
        """Record one step result (fenced)."""
        params = {
            "id": task_id,
            "attempt": attempt,
            "owner": owner,
            "name": name,
            "result": result_json,
        }
        with self._conn() as conn:
            return conn.execute(Q["record_step"], params).rowcount == 1

    def recover_expired(self) -> int:
        """Send expired leases back to pending (or dead), with their events."""
        templates = ev.as_json_rows(ev.recovery_events([("", "dead", 0, "")]))
        params = {"commit": self._commit, "events": templates}
        with self._conn() as conn:
            rows = conn.execute(Q["recover_expired"], params).fetchall()
        return len(rows)

    # -- operating ------------------------------------------------------------------
    def cancel(self, task_id: str, actor: str | None) -> bool:
        """Cancel a pending, retrying or running task; True if this call did."""
        with self._conn() as conn:
            return bool(
                scalar(
                    conn.execute(
                        Q["cancel"], {"id": task_id, **ev.template(ev.task_cancelled("", actor))}
                    ).fetchone()
                )
            )

    def queue_stats(self) -> list[QueueStats]:
        """Per-queue counts and oldest due age."""
        with self._conn() as conn:
            counts = conn.execute(Q["counts_per_queue"]).fetchall()
            ages = conn.execute(Q["oldest_due_per_queue"]).fetchall()
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
            "ids": list(task_ids or []),
            "states": [s.value for s in states],
            "reset": reset is not None,
        }
        with self._tx() as conn:
            retried = [row[0] for row in conn.execute(Q["retry_tasks"], params).fetchall()]
            deleted: dict[str, list[str]] = {}
            if reset is not None and retried:
                recorded = conn.execute(Q["steps_of_tasks"], {"ids": retried}).fetchall()
                deleted = task_rows.steps_to_reset(reset, recorded)
                pairs = [(task_id, key) for task_id, keys in deleted.items() for key in keys]
                conn.execute(
                    Q["delete_steps"],
                    {"task_ids": [p[0] for p in pairs], "names": [p[1] for p in pairs]},
                )
            self._insert_events(conn, ev.replayed_events(retried, reset, deleted, actor))
        return retried


def _started_template(owner: str) -> dict[str, Any]:
    """The ``task.started`` event a claim binds; the statement fills in the task and
    the attempt (the template's 0)."""
    return ev.template(ev.task_started("", 0, owner))
