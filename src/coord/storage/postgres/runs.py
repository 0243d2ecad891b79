"""Workflow runs on PostgreSQL (see :class:`coord.ports.runs.RunStore`).

A change to a run is one transaction: ``SELECT ... FOR UPDATE`` on the run's row
(decisions about one run are serialized across every worker), then the triggering
write (a task outcome), the engine's reads, and its changes. The run row is locked
before any task row, so two workers finishing tasks of one run queue on the run
instead of deadlocking on each other's tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from coord.domain import codec
from coord.domain.run_views import ArtifactInfo, RunInfo, WorkflowInfo
from coord.domain.runs import TIMER_TASK, NewRun, RunChanges, RunSnapshot
from coord.domain.tasks import Outcome, policy_from_dict
from coord.domain.views import EventInfo
from coord.domain.workflows import parse_workflow
from coord.ports.runs import Decide, NewArtifact, RunFilter
from coord.storage import common, run_rows
from coord.storage.postgres.connection import PACKAGE, PostgresConnection, Q, complete_rows, scalar
from coord.storage.records import RowReader
from coord.storage.sql import fill, load_queries

logger = logging.getLogger(__name__)
_READER = RowReader()
R = fill(load_queries(PACKAGE, "runs.sql"), {"run_columns": run_rows.RUN_COLUMNS})


class _RunTx:
    """The engine's view of one locked run, on the transaction's connection."""

    def __init__(self, conn: psycopg.Connection[Any], run_id: str) -> None:
        self.conn = conn
        self.run_id = run_id

    def snapshot(self) -> RunSnapshot:
        conn, params = self.conn, {"id": self.run_id}
        row = conn.execute(R["snapshot_run"], params).fetchone()
        assert row is not None, "the run is locked, so it exists"
        run = run_rows.run_record(row, _READER)
        spec = parse_workflow(run.definition)
        names = sorted(spec.task_names() | {TIMER_TASK})
        policies = conn.execute(R["policies_named"], {"names": names}).fetchall()
        artifacts: dict[tuple[str, int], set[str]] = {}
        for phase, attempt, name in conn.execute(R["snapshot_artifacts"], params):
            artifacts.setdefault((phase, attempt), set()).add(name)
        return RunSnapshot(
            run=run,
            phases={
                p.name: p
                for p in (
                    run_rows.phase_record(r, _READER)
                    for r in conn.execute(R["snapshot_phases"], params)
                )
            },
            tasks=[
                run_rows.task_record(r, _READER) for r in conn.execute(R["snapshot_tasks"], params)
            ],
            artifacts=artifacts,
            policies={name: policy_from_dict(p) for name, p in policies},
            now=float(row[13]),
        )

    def task_results(self, task_ids: Sequence[str]) -> dict[str, Any]:
        if not task_ids:
            return {}
        rows = self.conn.execute(R["task_results"], {"run": self.run_id, "ids": list(task_ids)})
        return {str(task_id): result for task_id, result in rows}


class PostgresRuns(PostgresConnection):
    """Run half of the PostgreSQL store."""

    # -- definitions ------------------------------------------------------------------
    def register_workflows(self, definitions: Sequence[dict[str, Any]]) -> None:
        """Record workflow definitions by name."""
        with self._tx() as conn:
            for definition in definitions:
                conn.execute(
                    R["upsert_workflow"],
                    {"name": definition["name"], "definition": codec.dumps(definition)},
                )

    def list_workflows(self) -> list[WorkflowInfo]:
        """Registered workflows by name."""
        with self._conn() as conn:
            rows = conn.execute(R["list_workflows"]).fetchall()
        return [run_rows.workflow_info(r, _READER) for r in rows]

    def get_workflow(self, name: str) -> dict[str, Any] | None:
        """One registered definition."""
        with self._conn() as conn:
            row = conn.execute(R["get_workflow"], {"name": name}).fetchone()
        return None if row is None else dict(row[0])

    # -- changing runs ----------------------------------------------------------------
    def create_run(self, run: NewRun, decide: Decide) -> tuple[str, bool]:
        """Insert a run and its phases and start it, in one transaction."""
        with self._tx() as conn:
            inserted = conn.execute(
                R["insert_run"],
                {
                    "id": run.id,
                    "workflow": run.workflow,
                    "definition": codec.dumps(run.definition),
                    "input": codec.dumps(run.input),
                    "budget": codec.dumps(run.budget.to_dict()),
                    "key": run.key,
                    "actor": run.actor,
                },
            ).fetchone()
            if inserted is None:
                assert run.key is not None
                return _existing_run(conn, run), False
            rows = [
                [name, position, run.phase_budgets[name].to_dict()]
                for position, name in enumerate(run.phases)
            ]
            conn.execute(R["insert_phases"], {"run": run.id, "rows": codec.dumps(rows)})
            conn.execute(R["lock_run"], {"id": run.id})
            self._apply(conn, run.id, decide(_RunTx(conn, run.id)), run.actor)
        return run.id, True

    def change_run(self, run_id: str, decide: Decide) -> bool:
        """Lock a run and apply the engine's decision."""
        with self._tx() as conn:
            if conn.execute(R["lock_run"], {"id": run_id}).fetchone() is None:
                return False
            self._apply(conn, run_id, decide(_RunTx(conn, run_id)), None)
        return True

    def complete_run_task(self, owner: str, outcome: Outcome, run_id: str, decide: Decide) -> bool:
        """Record a run task's outcome (fenced) and the engine's decision together."""
        with self._tx() as conn:
            conn.execute(R["lock_run"], {"id": run_id})
            params = {"rows": complete_rows([outcome]), "owner": owner}
            if conn.execute(Q["complete"], params).fetchone() is None:
                return False
            self._apply(conn, run_id, decide(_RunTx(conn, run_id)), owner)
        return True

    def _apply(
        self, conn: psycopg.Connection[Any], run_id: str, changes: RunChanges, actor: str | None
    ) -> None:
        if changes.run is not None:
            conn.execute(R["update_run"], run_rows.run_values(changes.run))
        else:
            conn.execute(R["touch_run"], {"id": run_id})
        if changes.phases:
            rows = [run_rows.phase_values(p) for p in changes.phases.values()]
            conn.execute(R["update_phases"], {"run": run_id, "rows": codec.dumps(rows)})
        rows = run_rows.event_rows(changes, changes.actor or actor)
        conn.execute(R["insert_run_events"], {"run": run_id, "rows": codec.dumps(rows)})
        if changes.cancel_tasks:
            conn.execute(
                R["cancel_run_tasks"],
                {"ids": changes.cancel_tasks, "run": run_id, "actor": actor or "coord:run"},
            )
        if changes.tasks:
            self._insert_run_tasks(conn, changes.tasks, "coord:run")

    def _insert_run_tasks(
        self, conn: psycopg.Connection[Any], tasks: Sequence[Any], actor: str
    ) -> None:
        raw = codec.raw
        rows = [
            [
                t.id,
                t.name,
                t.queue,
                t.priority,
                raw(t.payload_json),
                t.key,
                t.run_at,
                *common.policy_columns(t),
                t.run_id,
                t.phase,
                raw(t.run_step_json),
                raw(t.run_input_json),
            ]
            for t in tasks
        ]
        conn.execute(R["enqueue_run_tasks"], {"rows": codec.dumps(rows), "actor": actor})

    def runs_to_reconcile(self, older_than: float) -> list[str]:
        """Active runs that may have missed their next step."""
        with self._conn() as conn:
            rows = conn.execute(R["runs_to_reconcile"], {"older_than": older_than}).fetchall()
        return [str(r[0]) for r in rows]

    # -- reading ----------------------------------------------------------------------
    def get_run(self, run_id: str) -> RunInfo | None:
        """A run with its phases and their usage."""
        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(R["get_run"], {"id": run_id}).fetchone()
            if row is None:
                return None
            phases = cur.execute(R["run_phases"], {"id": run_id}).fetchall()
            usage = run_rows.usage_by_phase(conn.execute(R["run_usage"], {"id": run_id}).fetchall())
        infos = run_rows.phase_infos(row["definition"], phases, _READER, usage)
        return run_rows.run_info(row, _READER, usage[None], infos)

    def list_runs(self, run_filter: RunFilter) -> list[RunInfo]:
        """Runs, newest first, with their total usage."""
        params = {
            "state": None if run_filter.state is None else run_filter.state.value,
            "workflow": run_filter.workflow,
            "limit": run_filter.limit,
        }
        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(R["list_runs"], params).fetchall()
            ids = [str(r["id"]) for r in rows]
            totals = {str(u[0]): u for u in conn.execute(R["runs_usage"], {"ids": ids})}
        return [
            run_rows.run_info(r, _READER, run_rows.usage_total(totals.get(str(r["id"]))))
            for r in rows
        ]

    def run_events(self, run_id: str, after_id: int = 0) -> list[EventInfo]:
        """The run's events and its tasks', oldest first."""
        rows = self._dict_rows(R["run_events"], {"id": run_id, "after": after_id})
        return [_READER.event(r) for r in rows]

    # -- artifacts --------------------------------------------------------------------
    def record_artifact(self, owner: str, artifact: NewArtifact) -> bool:
        """Store an artifact's content (once per digest) and its provenance (fenced)."""
        with self._tx() as conn:
            conn.execute(R["save_artifact_content"], run_rows.content_params(artifact))
            recorded = scalar(
                conn.execute(
                    R["record_artifact"], run_rows.artifact_params(owner, artifact)
                ).fetchone()
            )
        return bool(recorded)

    def run_artifacts(self, run_id: str) -> list[ArtifactInfo]:
        """The run's artifacts, oldest first."""
        with self._conn() as conn:
            rows = conn.execute(R["run_artifacts"], {"id": run_id}).fetchall()
        return [run_rows.artifact_info(r, _READER) for r in rows]

    def artifact_content(self, digest: str) -> bytes | None:
        """An artifact's bytes."""
        with self._conn() as conn:
            row = conn.execute(R["artifact_content"], {"digest": digest}).fetchone()
        return None if row is None else bytes(row[0])


def _existing_run(conn: psycopg.Connection[Any], run: NewRun) -> str:
    row = conn.execute(R["run_by_key"], {"key": run.key}).fetchone()
    assert row is not None, "the insert met this key"
    return run_rows.same_run(run, str(row[0]), row[1], row[2])
