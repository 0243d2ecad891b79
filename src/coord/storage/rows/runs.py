"""Rows of runs, phases and run tasks, to and from the records of both stores.

Both dialects select the same columns in the same order; they differ only in how
JSON arrives (parsed by psycopg, text from SQLite) and how times do (the snapshot
queries give epoch seconds on both; the read models' queries give timestamps on
PostgreSQL and epoch seconds on SQLite), which a :class:`RowReader` knows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from coord.domain import codec
from coord.domain.budgets import budget_from_dict, usage_dict
from coord.domain.run_views import ArtifactInfo, PhaseInfo, RunInfo, WorkflowInfo
from coord.domain.runs import (
    NewRun,
    PhaseRecord,
    PhaseState,
    RunRecord,
    RunSnapshot,
    RunState,
    RunStep,
    RunTaskRecord,
)
from coord.domain.tasks import Outcome, TaskState, Usage
from coord.domain.workflows import parse_workflow
from coord.errors import IdempotencyConflict
from coord.ports.runs import NewArtifact
from coord.storage.rows.reader import RowReader

RUN_COLUMNS = (
    "id, workflow, definition, state, reason, detail, input, idempotency_key, created_at, "
    "started_at, finished_at, budget"
)


def same_run(run: NewRun, found_id: str, workflow: str, run_input: Any) -> str:
    """The id of the run found under ``run``'s key, if it is the same run (workflow
    and input); ``IdempotencyConflict`` otherwise."""
    if workflow != run.workflow or run_input != run.input:
        raise IdempotencyConflict(
            f"a run with key {run.key!r} exists already ({found_id}) with another "
            "workflow or input",
            run_id=found_id,
            key=run.key,
        )
    return found_id


def run_record(row: Sequence[Any], reader: RowReader) -> RunRecord:
    """A ``snapshot_run`` row (the last column, the clock, is not part of it)."""
    js = reader.json_value
    return RunRecord(
        id=str(row[0]),
        workflow=row[1],
        definition=js(row[2]),
        input=js(row[3]),
        state=RunState(row[4]),
        reason=row[5],
        detail=js(row[6]),
        budget=budget_from_dict(js(row[7])),
        key=row[8],
        created_at=row[9],
        started_at=row[10],
        finished_at=row[11],
        actor=row[12],
    )


def phase_record(row: Sequence[Any], reader: RowReader) -> PhaseRecord:
    """A ``snapshot_phases`` row."""
    js = reader.json_value
    return PhaseRecord(
        name=row[0],
        state=PhaseState(row[1]),
        attempt=row[2],
        loops=row[3],
        started_at=row[4],
        finished_at=row[5],
        deadline_at=row[6],
        result=js(row[7]),
        gate=js(row[8]),
        error=js(row[9]),
        budget=budget_from_dict(js(row[10])),
        items=js(row[11]),
        waiver=js(row[12]),
        approval=js(row[13]),
        finished_seq=row[14],
    )


def task_record(row: Sequence[Any], reader: RowReader) -> RunTaskRecord:
    """A ``snapshot_tasks`` row."""
    js = reader.json_value
    return RunTaskRecord(
        id=str(row[0]),
        phase=row[1],
        name=row[2],
        state=TaskState(row[3]),
        step=RunStep.from_dict(js(row[4])),
        usage=Usage(int(row[5]), int(row[6]), int(row[7]), float(row[8])),
        error=js(row[9]),
    )


def apply_outcome(snapshot: RunSnapshot, outcome: Outcome) -> None:
    """Show ``outcome`` in a snapshot read in the statement that stored it (which
    sees the task as it was before): its new state, usage and error."""
    for task in snapshot.tasks:
        if task.id == outcome.task_id:
            task.state = outcome.state
            task.usage.add(outcome.usage)
            if outcome.error_json is not None:
                error = codec.loads(outcome.error_json)
                task.error = {"type": error.get("type"), "message": error.get("message")}
            return


def phase_values(phase: PhaseRecord) -> list[Any]:
    """A phase as the positional row ``update_phases`` takes (JSON values as data)."""
    return [
        phase.name,
        phase.state.value,
        phase.attempt,
        phase.loops,
        phase.started_at,
        phase.finished_at,
        phase.deadline_at,
        phase.result,
        phase.gate,
        phase.error,
        phase.budget.to_dict(),
        phase.items,
        phase.waiver,
        phase.approval,
        phase.finished_seq,
    ]


def run_values(run: RunRecord) -> dict[str, Any]:
    """The run's changeable columns as ``update_run`` parameters (JSON as text)."""
    return {
        "id": run.id,
        "state": run.state.value,
        "reason": run.reason,
        "detail": None if run.detail is None else codec.dumps(run.detail),
        "budget": codec.dumps(run.budget.to_dict()),
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def content_params(artifact: NewArtifact) -> dict[str, Any]:
    """``save_artifact_content`` parameters."""
    return {
        "digest": artifact.digest,
        "content": artifact.content,
        "size": len(artifact.content),
        "media_type": artifact.media_type,
    }


def artifact_params(owner: str, artifact: NewArtifact) -> dict[str, Any]:
    """``record_artifact`` parameters (fenced by ``owner``'s lease)."""
    return {
        "run": artifact.run_id,
        "phase": artifact.phase,
        "phase_attempt": artifact.phase_attempt,
        "name": artifact.name,
        "digest": artifact.digest,
        "task": artifact.task_id,
        "task_attempt": artifact.task_attempt,
        "producer": artifact.producer,
        "tool": artifact.tool,
        "inputs": codec.dumps(list(artifact.inputs)),
        "size": len(artifact.content),
        "owner": owner,
    }


def usage_by_phase(rows: Sequence[Sequence[Any]]) -> dict[str | None, Usage]:
    """``run_usage`` rows as usage per phase, and the run's total under None."""
    per_phase: dict[str | None, Usage] = {None: Usage()}
    for phase, tokens_in, tokens_out, usd_micros, tool_seconds in rows:
        usage = Usage(int(tokens_in or 0), int(tokens_out or 0), int(usd_micros or 0))
        usage.tool_seconds = float(tool_seconds or 0.0)
        per_phase[phase] = usage
        per_phase[None].add(usage)
    return per_phase


def usage_total(row: Sequence[Any] | None) -> Usage:
    """One ``runs_usage`` row (run_id first) as a Usage."""
    if row is None:
        return Usage()
    return Usage(int(row[1] or 0), int(row[2] or 0), int(row[3] or 0), float(row[4] or 0.0))


def run_info(
    row: Mapping[str, Any],
    reader: RowReader,
    usage: Usage,
    phases: Sequence[PhaseInfo] = (),
) -> RunInfo:
    """A ``RUN_COLUMNS`` row as a :class:`RunInfo`."""
    when, js = reader.when, reader.json_value
    created = when(row["created_at"])
    assert created is not None
    return RunInfo(
        id=str(row["id"]),
        workflow=row["workflow"],
        state=RunState(row["state"]),
        reason=row["reason"],
        detail=js(row["detail"]),
        input=js(row["input"]),
        key=row["idempotency_key"],
        created_at=created,
        started_at=when(row["started_at"]),
        finished_at=when(row["finished_at"]),
        budget=js(row["budget"]) or {},
        usage=usage_dict(usage),
        phases=list(phases),
    )


def phase_infos(
    definition: Any,
    rows: Sequence[Mapping[str, Any]],
    reader: RowReader,
    usage: Mapping[str | None, Usage],
) -> list[PhaseInfo]:
    """``run_phases`` rows as :class:`PhaseInfo`, with the definition's task and
    ``after`` and each phase's usage."""
    spec = parse_workflow(reader.json_value(definition))
    when, js = reader.when, reader.json_value
    out = []
    for row in rows:
        phase = spec.phase(row["name"])
        items = js(row["items"])
        out.append(
            PhaseInfo(
                name=row["name"],
                state=PhaseState(row["state"]),
                task=phase.task,
                after=list(phase.after),
                attempt=row["attempt"],
                loops=row["loops"],
                started_at=when(row["started_at"]),
                finished_at=when(row["finished_at"]),
                deadline_at=when(row["deadline_at"]),
                items=None if items is None else len(items),
                result=js(row["result"]),
                gate=js(row["gate"]),
                error=js(row["error"]),
                approval=js(row["approval"]),
                waiver=js(row["waiver"]),
                budget=js(row["budget"]) or {},
                usage=usage_dict(usage.get(row["name"], Usage())),
            )
        )
    return out


def workflow_info(row: Sequence[Any], reader: RowReader) -> WorkflowInfo:
    """A ``list_workflows`` (or ``get_workflow``) row."""
    definition = reader.json_value(row[1])
    updated = reader.when(row[2])
    assert updated is not None
    return WorkflowInfo(
        name=row[0],
        description=definition.get("description"),
        phases=list(definition.get("phases", {})),
        updated_at=updated,
        definition=definition,
    )


def artifact_info(row: Sequence[Any], reader: RowReader) -> ArtifactInfo:
    """A ``run_artifacts`` row."""
    created = reader.when(row[12])
    assert created is not None
    return ArtifactInfo(
        run_id=str(row[0]),
        phase=row[1],
        name=row[2],
        digest=row[3],
        size=row[4],
        media_type=row[5],
        task_id=str(row[6]),
        task_attempt=row[7],
        phase_attempt=row[8],
        producer=row[9],
        tool=row[10],
        inputs=list(reader.json_value(row[11]) or []),
        created_at=created,
    )
