"""Workflow runs on PostgreSQL (see :class:`coord.ports.runs.RunStore`).

A change to a run is one transaction of two statements. The first locks the run's
row (decisions about one run are serialized across every worker), writes what
triggered the change (a task's outcome, fenced by its lease) and reads the whole
run back as one row of JSON; the engine decides in Python; the second statement
writes the decision (the run, its phases, tasks to cancel and to enqueue, events and
wake-ups). The run's row is locked before any task's, so two workers finishing
tasks of one run queue on the run instead of deadlocking on each other's tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from coord.domain import codec
from coord.domain.run_views import RunInfo
from coord.domain.runs import EagerClaim, NewRun, RunSnapshot, eager_picks
from coord.domain.tasks import ClaimedTask, Outcome, policy_from_dict
from coord.ports.runs import Decide, NewArtifact, RunListing, RunOutcomeStored
from coord.storage.postgres.connection import (
    FENCED_OUTCOMES,
    PACKAGE,
    PostgresConnection,
    claimed_task,
    complete_rows,
    scalar,
)
from coord.storage.rows import events as ev
from coord.storage.rows import runs as run_rows
from coord.storage.rows import tasks as task_rows
from coord.storage.rows.reader import RowReader
from coord.storage.shared.runs import RunsWrittenOnce
from coord.storage.sql import fill, load_queries

_READER = RowReader()

# The engine's view of a run as one row (the ``snapshot`` queries): the run's columns
# (times as epoch seconds, with the database clock last), then its phases, tasks
# (without payloads, results or tracebacks), artifact names and the policies of every
# task its definition names, as JSON.
_SNAPSHOT_SELECT = """
SELECT r.id, r.workflow, r.definition, r.input, r.state, r.reason, r.detail, r.budget,
       r.idempotency_key, extract(epoch FROM r.created_at)::float8,
       extract(epoch FROM r.started_at)::float8, extract(epoch FROM r.finished_at)::float8,
       r.actor, extract(epoch FROM now())::float8,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(
                   p.name, p.state, p.attempt, p.loops, extract(epoch FROM p.started_at)::float8,
                   extract(epoch FROM p.finished_at)::float8,
                   extract(epoch FROM p.deadline_at)::float8, p.result, p.gate, p.error,
                   p.budget, p.items, p.waiver, p.approval, p.finished_seq)
               ORDER BY p.position), '[]')
        FROM coord_phases AS p WHERE p.run_id = r.id) AS phases,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(
                   t.id, t.phase, t.name, t.state, t.run_step, t.tokens_in, t.tokens_out,
                   t.usd_micros, t.tool_seconds,
                   CASE WHEN t.error IS NOT NULL
                        THEN jsonb_build_object('type', t.error->>'type',
                                                'message', t.error->>'message') END)
               ORDER BY t.id), '[]')
        FROM coord_tasks AS t WHERE t.run_id = r.id) AS tasks,
       (SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_array(a.phase, a.phase_attempt, a.name)),
                        '[]')
        FROM coord_run_artifacts AS a WHERE a.run_id = r.id) AS artifacts,
       (SELECT coalesce(jsonb_object_agg(x.name, x.policy), '{}')
        FROM coord_task_policies AS x
        WHERE x.name = 'coord.timer'
           OR x.name IN (SELECT jsonb_path_query(r.definition, '$.phases.*.task') #>> '{}'
                         UNION ALL
                         SELECT jsonb_path_query(r.definition, '$.phases.*.gate.fix') #>> '{}'
                         UNION ALL
                         SELECT jsonb_path_query(r.definition, '$.phases.*.compensate')
                                #>> '{}')) AS policies"""

R = fill(
    load_queries(PACKAGE, "runs.sql"),
    {
        "run_columns": run_rows.RUN_COLUMNS,
        "snapshot_select": _SNAPSHOT_SELECT.strip(),
        # The lock on the run is taken before the task's row: see complete_and_snapshot.
        "fenced_outcomes": FENCED_OUTCOMES.replace(
            "{also_fenced_by}", "EXISTS (SELECT 1 FROM locked)"
        ),
    },
)


def _snapshot(row: Sequence[Any]) -> RunSnapshot:
    """A snapshot row as the engine's :class:`RunSnapshot`."""
    phases = [run_rows.phase_record(p, _READER) for p in row[14]]
    artifacts: dict[tuple[str, int], set[str]] = {}
    for phase, attempt, name in row[16]:
        artifacts.setdefault((phase, attempt), set()).add(name)
    return RunSnapshot(
        run=run_rows.run_record(row, _READER),
        phases={p.name: p for p in phases},
        tasks=[run_rows.task_record(t, _READER) for t in row[15]],
        artifacts=artifacts,
        policies={name: policy_from_dict(p) for name, p in row[17].items()},
        now=float(row[13]),
    )


class _RunTx:
    """The engine's view of one locked run: the snapshot read with the lock, and
    task results, from what the caller knows or from the transaction."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        snapshot: RunSnapshot,
        known_results: dict[str, Any] | None = None,
    ) -> None:
        self.conn = conn
        self._snapshot = snapshot
        self._known = known_results or {}

    def snapshot(self) -> RunSnapshot:
        return self._snapshot

    def task_results(self, task_ids: Sequence[str]) -> dict[str, Any]:
        found = {i: self._known[i] for i in task_ids if i in self._known}
        missing = [i for i in task_ids if i not in found]
        if missing:
            rows = self.conn.execute(
                R["task_results"], {"run": self._snapshot.run.id, "ids": missing}
            )
            found.update((str(task_id), result) for task_id, result in rows)
        return found


class PostgresRuns(PostgresConnection, RunsWrittenOnce):
    """Run half of the PostgreSQL store."""

    _run_queries = R

    # -- changing runs ----------------------------------------------------------------
    def create_run(self, run: NewRun, decide: Decide) -> tuple[str, bool]:
        """Insert a run and its phases and start it, in one transaction."""
        phases = [
            [name, position, run.phase_budgets[name].to_dict()]
            for position, name in enumerate(run.phases)
        ]
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
                    "phases": codec.dumps(phases),
                },
            ).fetchone()
            if inserted is None:
                assert run.key is not None
                return _existing_run(conn, run), False
            snapshot = _locked_snapshot(conn, run.id)
            assert snapshot is not None, "inserted just now"
            _decide(conn, snapshot, decide, run.actor)
        return run.id, True

    def change_run(self, run_id: str, decide: Decide) -> bool:
        """Lock a run and apply the engine's decision."""
        with self._tx() as conn:
            snapshot = _locked_snapshot(conn, run_id)
            if snapshot is None:
                return False
            _decide(conn, snapshot, decide, None)
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
        what ``eager`` takes of the tasks it enqueues comes back claimed."""
        with self._tx() as conn:
            row = conn.execute(
                R["complete_and_snapshot"],
                {"run": run_id, "owner": owner, "rows": complete_rows([outcome])},
            ).fetchone()
            if row is None or not row[-1]:
                # The lease was lost (or the run is gone): nothing written.
                return RunOutcomeStored(accepted=False)
            if row[-2]:
                snapshot = _snapshot(row)
                run_rows.apply_outcome(snapshot, outcome)  # the snapshot predates it
            else:  # it waited for the lock: read again (which sees the outcome too)
                again = _locked_snapshot(conn, run_id)
                assert again is not None, "the run is locked"
                snapshot = again
            known = {}
            if outcome.result_json is not None:
                known[outcome.task_id] = codec.loads(outcome.result_json)
            claimed = _decide(conn, snapshot, decide, owner, known, eager)
        return RunOutcomeStored(accepted=True, claimed=claimed)

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

    def list_runs(self, listing: RunListing) -> list[RunInfo]:
        """Runs, newest first, with their total usage."""
        params = {
            "state": None if listing.state is None else listing.state.value,
            "workflow": listing.workflow,
            "limit": listing.limit,
            "before": listing.before_id,
        }
        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(R["list_runs"], params).fetchall()
            ids = [str(r["id"]) for r in rows]
            totals = {str(u[0]): u for u in conn.execute(R["runs_usage"], {"ids": ids})}
        return [
            run_rows.run_info(r, _READER, run_rows.usage_total(totals.get(str(r["id"]))))
            for r in rows
        ]

    # -- artifacts --------------------------------------------------------------------
    def record_artifact(self, owner: str, artifact: NewArtifact) -> bool:
        """Store an artifact's content (once per digest) and its provenance (fenced)."""
        with self._tx() as conn:
            conn.execute(R["save_artifact_content"], run_rows.content_params(artifact))
            params = {
                **run_rows.artifact_params(owner, artifact),
                "events": ev.as_json_rows([ev.artifact_stored(artifact, owner)]),
            }
            recorded = scalar(conn.execute(R["record_artifact"], params).fetchone())
        return bool(recorded)


def _existing_run(conn: psycopg.Connection[Any], run: NewRun) -> str:
    row = conn.execute(R["run_by_key"], {"key": run.key}).fetchone()
    assert row is not None, "the insert met this key"
    return run_rows.same_run(run, str(row[0]), row[1], row[2])


def _locked_snapshot(conn: psycopg.Connection[Any], run_id: str) -> RunSnapshot | None:
    """Lock the run and read it; read again should the first read predate the
    commit of the transaction the lock waited for (see the ``snapshot`` query)."""
    row = conn.execute(R["snapshot"], {"run": run_id}).fetchone()
    if row is not None and not row[-1]:
        row = conn.execute(R["snapshot"], {"run": run_id}).fetchone()  # lock held: fresh
    return None if row is None else _snapshot(row)


def _decide(
    conn: psycopg.Connection[Any],
    snapshot: RunSnapshot,
    decide: Decide,
    actor: str | None,
    known_results: dict[str, Any] | None = None,
    eager: EagerClaim | None = None,
) -> list[ClaimedTask]:
    """Let the engine decide on ``snapshot`` and write its changes in one statement;
    return the tasks it enqueued that ``eager`` claimed."""
    changes = decide(_RunTx(conn, snapshot, known_results))
    run = changes.run or snapshot.run
    picks = set(eager_picks(changes.tasks, eager))
    raw = codec.raw
    tasks = [
        [
            t.id,
            t.name,
            t.queue,
            t.priority,
            raw(t.payload_json),
            t.key,
            t.run_at,
            *task_rows.policy_columns(t),
            t.run_id,
            t.phase,
            raw(t.run_step_json),
            raw(t.run_input_json),
            t.id in picks,
        ]
        for t in changes.tasks
    ]
    # Eager tasks are inserted leased, at their first attempt.
    owner = None if eager is None else eager.owner
    started = [ev.task_started(t.id, 1, owner) for t in changes.tasks if owner and t.id in picks]
    rows = conn.execute(
        R["apply"],
        {
            **run_rows.run_values(run),
            "run": run.id,
            "phases": codec.dumps([run_rows.phase_values(p) for p in changes.phases.values()]),
            "cancel": changes.cancel_tasks,
            **ev.template(ev.task_cancelled("", actor or ev.RUN_ACTOR)),
            "tasks": codec.dumps(tasks),
            "events": ev.as_json_rows(ev.decision_events(changes, changes.actor or actor, run.id)),
            "enqueued": ev.as_json_rows(ev.enqueued_events(changes.tasks, ev.RUN_ACTOR)),
            "started": ev.as_json_rows(started),
            "owner": owner,
            "lease": None if eager is None else eager.lease_seconds,
        },
    ).fetchall()
    return [claimed_task(r) for r in rows if r[0] is not None]
