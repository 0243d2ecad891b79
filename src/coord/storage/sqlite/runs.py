"""Workflow runs on SQLite (see :class:`coord.ports.runs.RunStore`).

A change to a run is one ``BEGIN IMMEDIATE`` transaction, which holds the file's
write lock: the triggering write (a task outcome), the engine's reads and its
changes commit together, and no other decision about the run can interleave.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from coord.domain import codec
from coord.domain.run_views import RunInfo
from coord.domain.runs import TIMER_TASK, EagerClaim, NewRun, RunChanges, RunSnapshot, eager_picks
from coord.domain.tasks import ClaimedTask, Outcome, policy_from_dict
from coord.domain.workflows import parse_workflow
from coord.ports.runs import Decide, NewArtifact, RunListing, RunOutcomeStored
from coord.storage.rows import events as ev
from coord.storage.rows import runs as run_rows
from coord.storage.rows.reader import RowReader, epoch_to_datetime, json_text_to_value
from coord.storage.shared.runs import RunsWrittenOnce
from coord.storage.sql import fill, load_queries
from coord.storage.sqlite.connection import PACKAGE, Q, SqliteConnection, claimed_task

_READER = RowReader(json_value=json_text_to_value, when=epoch_to_datetime)
R = fill(load_queries(PACKAGE, "runs.sql"), {"run_columns": run_rows.RUN_COLUMNS})


def _json(value: Any) -> str | None:
    return None if value is None else codec.dumps(value)


class _RunTx:
    """The engine's view of one run, inside the write transaction."""

    def __init__(self, cur: sqlite3.Cursor, run_id: str, now: float) -> None:
        self.cur = cur
        self.run_id = run_id
        self.now = now

    def snapshot(self) -> RunSnapshot:
        cur, params = self.cur, {"id": self.run_id, "now": self.now}
        row = cur.execute(R["snapshot_run"], params).fetchone()
        assert row is not None, "the caller checked the run exists"
        run = run_rows.run_record(row, _READER)
        spec = parse_workflow(run.definition)
        names = codec.dumps(sorted(spec.task_names() | {TIMER_TASK}))
        policies = cur.execute(R["policies_named"], {"names": names}).fetchall()
        artifacts: dict[tuple[str, int], set[str]] = {}
        for phase, attempt, name in cur.execute(R["snapshot_artifacts"], params).fetchall():
            artifacts.setdefault((phase, attempt), set()).add(name)
        phases = [
            run_rows.phase_record(r, _READER) for r in cur.execute(R["snapshot_phases"], params)
        ]
        tasks = [run_rows.task_record(r, _READER) for r in cur.execute(R["snapshot_tasks"], params)]
        return RunSnapshot(
            run=run,
            phases={p.name: p for p in phases},
            tasks=tasks,
            artifacts=artifacts,
            policies={name: policy_from_dict(codec.loads(p)) for name, p in policies},
            now=self.now,
        )

    def task_results(self, task_ids: Sequence[str]) -> dict[str, Any]:
        if not task_ids:
            return {}
        rows = self.cur.execute(
            R["task_results"], {"run": self.run_id, "ids": codec.dumps(list(task_ids))}
        ).fetchall()
        return {task_id: json_text_to_value(result) for task_id, result in rows}


class SqliteRuns(SqliteConnection, RunsWrittenOnce):
    """Run half of the SQLite store."""

    _run_queries = R

    # -- changing runs ----------------------------------------------------------------
    def create_run(self, run: NewRun, decide: Decide) -> tuple[str, bool]:
        """Insert a run and its phases and start it, in one transaction."""
        with self._errors(), self._tx() as (cur, now):
            cur.execute(
                R["insert_run"],
                {
                    "id": run.id,
                    "workflow": run.workflow,
                    "definition": codec.dumps(run.definition),
                    "input": codec.dumps(run.input),
                    "budget": codec.dumps(run.budget.to_dict()),
                    "key": run.key,
                    "actor": run.actor,
                    "now": now,
                },
            )
            if cur.rowcount != 1:
                return _existing_run(cur, run), False
            cur.executemany(
                R["insert_phase"],
                [
                    (run.id, name, position, codec.dumps(run.phase_budgets[name].to_dict()))
                    for position, name in enumerate(run.phases)
                ],
            )
            changes = self._apply(cur, run.id, decide(_RunTx(cur, run.id, now)), run.actor, now)
        self._signal_changes(changes)
        return run.id, True

    def change_run(self, run_id: str, decide: Decide) -> bool:
        """Apply the engine's decision to a run."""
        with self._errors(), self._tx() as (cur, now):
            if cur.execute(R["get_run"], {"id": run_id}).fetchone() is None:
                return False
            changes = self._apply(cur, run_id, decide(_RunTx(cur, run_id, now)), None, now)
        self._signal_changes(changes)
        return True

    def complete_run_task(
        self,
        owner: str,
        outcome: Outcome,
        run_id: str,
        decide: Decide,
        eager: EagerClaim | None = None,
    ) -> RunOutcomeStored:
        """Record a run task's outcome (fenced) and the engine's decision together;
        claim at once what ``eager`` takes of the tasks it enqueues."""
        claimed: list[ClaimedTask] = []
        with self._errors(), self._fenced_tx() as (cur, now, asked):
            accepted = self._complete_on(cur, owner, [outcome], now, asked)
            if not accepted:
                return RunOutcomeStored(accepted=False)
            changes = self._apply(cur, run_id, decide(_RunTx(cur, run_id, now)), owner, now)
            picks = eager_picks(changes.tasks, eager)
            if eager is not None and picks:
                params = {
                    "ids": codec.dumps(picks),
                    "owner": eager.owner,
                    "now": now,
                    "lease": eager.lease_seconds,
                }
                claimed = [claimed_task(r) for r in cur.execute(Q["claim_rows"], params)]
                started = [ev.task_started(t.id, t.attempt, eager.owner) for t in claimed]
                self._insert_events(cur, started, now)
        self._signal_outcomes([outcome], accepted)
        self._signal_changes(changes)
        return RunOutcomeStored(accepted=True, claimed=claimed)

    def _apply(
        self,
        cur: sqlite3.Cursor,
        run_id: str,
        changes: RunChanges,
        actor: str | None,
        now: float,
    ) -> RunChanges:
        if changes.run is not None:
            cur.execute(R["update_run"], {**run_rows.run_values(changes.run), "now": now})
        else:
            cur.execute(R["touch_run"], {"id": run_id, "now": now})
        for phase in changes.phases.values():
            values = run_rows.phase_values(phase)
            cur.execute(
                R["update_phase"],
                {
                    "run": run_id,
                    "name": values[0],
                    "state": values[1],
                    "attempt": values[2],
                    "loops": values[3],
                    "started_at": values[4],
                    "finished_at": values[5],
                    "deadline_at": values[6],
                    "result": _json(values[7]),
                    "gate": _json(values[8]),
                    "error": _json(values[9]),
                    "budget": codec.dumps(values[10]),
                    "items": _json(values[11]),
                    "waiver": _json(values[12]),
                    "approval": _json(values[13]),
                    "finished_seq": values[14],
                },
            )
        rows = ev.decision_events(changes, changes.actor or actor, run_id)
        if changes.cancel_tasks:
            ids = codec.dumps(changes.cancel_tasks)
            cancelled = cur.execute(R["cancel_run_tasks"], {"ids": ids, "now": now}).fetchall()
            rows += [
                ev.task_cancelled(r[0], actor or ev.RUN_ACTOR)._replace(run_id=run_id)
                for r in cancelled
            ]
        self._insert_events(cur, rows, now)
        if changes.tasks:
            self._insert_tasks(cur, changes.tasks, ev.RUN_ACTOR, now)
        return changes

    def _signal_changes(self, changes: RunChanges) -> None:
        if changes.tasks:
            self.signals.fire_due()
        if changes.cancel_tasks:
            self.signals.fire_done()

    def runs_to_reconcile(self, older_than: float) -> list[str]:
        """Active runs that may have missed their next step."""
        with self._errors(), self._read() as cur:
            rows = cur.execute(
                R["runs_to_reconcile"], {"before": time.time() - older_than}
            ).fetchall()
        return [r[0] for r in rows]

    # -- reading ----------------------------------------------------------------------
    def get_run(self, run_id: str) -> RunInfo | None:
        """A run with its phases and their usage."""
        rows = self._dict_rows(R["get_run"], {"id": run_id})
        if not rows:
            return None
        phases = self._dict_rows(R["run_phases"], {"id": run_id})
        with self._errors(), self._read() as cur:
            usage = run_rows.usage_by_phase(cur.execute(R["run_usage"], {"id": run_id}).fetchall())
        infos = run_rows.phase_infos(rows[0]["definition"], phases, _READER, usage)
        return run_rows.run_info(rows[0], _READER, usage[None], infos)

    def list_runs(self, listing: RunListing) -> list[RunInfo]:
        """Runs, newest first, with their total usage."""
        params = {
            "state": None if listing.state is None else listing.state.value,
            "workflow": listing.workflow,
            "limit": listing.limit,
            "before": listing.before_id,
        }
        rows = self._dict_rows(R["list_runs"], params)
        ids = codec.dumps([r["id"] for r in rows])
        with self._errors(), self._read() as cur:
            totals = {u[0]: u for u in cur.execute(R["runs_usage"], {"ids": ids}).fetchall()}
        return [
            run_rows.run_info(r, _READER, run_rows.usage_total(totals.get(r["id"]))) for r in rows
        ]

    # -- artifacts --------------------------------------------------------------------
    def record_artifact(self, owner: str, artifact: NewArtifact) -> bool:
        """Store an artifact's content (once per digest) and its provenance (fenced)."""
        with self._errors(), self._fenced_tx() as (cur, now, asked):
            cur.execute(
                R["save_artifact_content"], {**run_rows.content_params(artifact), "now": now}
            )
            cur.execute(
                R["record_artifact"],
                {**run_rows.artifact_params(owner, artifact), "now": now, "asked": asked},
            )
            if cur.rowcount != 1:
                return False
            self._insert_events(cur, [ev.artifact_stored(artifact, owner)], now)
        return True


def _existing_run(cur: sqlite3.Cursor, run: NewRun) -> str:
    row = cur.execute(R["run_by_key"], {"key": run.key}).fetchone()
    assert row is not None, "the insert met this key"
    return run_rows.same_run(run, str(row[0]), row[1], codec.loads(row[2]))
