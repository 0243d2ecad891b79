"""What happens when runs go wrong, on both backends: sagas after a failure and on
cancel, timeboxes, stalls, retries from a phase, the reconciler, and artifacts
with their dossier."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

import coord
from coord.domain.runs import PhaseState, RunState
from tests.helpers import drive_run, work_until


def saga_app(app: coord.App, fail_at: str | None) -> dict[str, list[str]]:
    """``a -> b -> c -> d``, each compensated by ``undo``; ``fail_at`` dies."""
    log: dict[str, list[str]] = {"ran": [], "undone": []}

    @app.task(retries=0)
    async def step(ctx: coord.Context) -> str:
        log["ran"].append(ctx.phase or "?")
        if ctx.phase == fail_at:
            raise coord.FatalError(f"{ctx.phase} broke")
        return f"{ctx.phase} done"

    @app.task(retries=0)
    async def undo(ctx: coord.Context) -> None:
        assert ctx.phase is not None
        assert ctx.results[ctx.phase] == f"{ctx.phase} done"
        log["undone"].append(ctx.phase)

    wf = app.workflow("saga")
    wf.phase("a", task=step, compensate=undo)
    wf.phase("b", task=step, after=["a"], compensate=undo)
    wf.phase("c", task=step, after=["b"])  # nothing to undo
    wf.phase("d", task=step, after=["c"], compensate=undo)
    return log


def test_a_failure_runs_the_compensations_newest_first_each_once(app: coord.App) -> None:
    log = saga_app(app, fail_at="d")
    run_id = app.runs.start("saga").id
    run = drive_run(app, run_id)
    assert run.state is RunState.FAILED and run.reason == "phase_failed"
    assert log["ran"] == ["a", "b", "c", "d"]
    assert log["undone"] == ["b", "a"]
    states = {p.name: p.state for p in run.phases}
    assert states == {
        "a": PhaseState.COMPENSATED,
        "b": PhaseState.COMPENSATED,
        "c": PhaseState.SUCCEEDED,
        "d": PhaseState.FAILED,
    }
    topics = [e.topic for e in app.runs.events(run_id) if not e.topic.startswith("task.")]
    assert topics[-6:] == [
        "run.compensating",
        "phase.compensating",
        "phase.compensated",
        "phase.compensating",
        "phase.compensated",
        "run.failed",
    ]
    assert run.phase("d").error["detail"]["message"] == "d broke"  # type: ignore[index]


def test_cancel_stops_running_tasks_cooperatively_and_compensates(app: coord.App) -> None:
    log = saga_app(app, fail_at=None)
    noticed: list[bool] = []

    @app.task
    async def long(ctx: coord.Context) -> None:
        try:
            for _ in range(200):
                ctx.heartbeat()
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            noticed.append(ctx.cancelled)
            raise

    wf = app.workflow("cancellable")
    wf.phase("a", task="step", compensate="undo")
    wf.phase("long", task=long, after=["a"])
    run_id = app.runs.start("cancellable").id

    def cancel_once_long_runs_then_settle() -> bool:
        run = app.runs.get(run_id)
        running = app.list_tasks(name="long", state=coord.TaskState.RUNNING)
        if run.state is RunState.RUNNING and running:
            app.runs.cancel(run_id)
        return run.state.is_terminal

    run = drive_run(app, run_id, until=cancel_once_long_runs_then_settle)
    assert run.state is RunState.CANCELLED and run.reason == "cancelled"
    assert run.phase("long").state is PhaseState.CANCELLED
    assert run.phase("a").state is PhaseState.COMPENSATED and log["undone"] == ["a"]
    assert noticed == [True]  # the handler was told, through its context
    assert app.list_tasks(name="long")[0].state is coord.TaskState.CANCELLED
    with pytest.raises(coord.Conflict, match="was cancelled: nothing to cancel"):
        app.runs.cancel(run_id)


def test_a_phase_past_its_timebox_fails_with_reason_timeout(app: coord.App) -> None:
    @app.task
    async def dawdle(ctx: coord.Context) -> None:
        await asyncio.sleep(30)

    app.workflow("boxed").phase("dawdle", task=dawdle, timebox="0.5s")
    run_id = app.runs.start("boxed").id
    run = drive_run(app, run_id, timeout=20)
    assert run.state is RunState.FAILED
    error = run.phase("dawdle").error
    assert error is not None and error["reason"] == "timeout"
    assert error["detail"] == {"timebox_s": 0.5}
    assert app.list_tasks(name="dawdle")[0].state is coord.TaskState.CANCELLED


def test_missed_heartbeats_mark_the_phase_stalled_and_retry_it(app: coord.App) -> None:
    @app.task(retries=2)
    async def scan(ctx: coord.Context) -> str:
        if ctx.attempt == 1:
            await asyncio.sleep(30)  # hangs without a heartbeat
        ctx.heartbeat(progress=1.0)
        return f"scanned on attempt {ctx.attempt}"

    wf = app.workflow("hang")
    wf.phase("scan", task=scan, heartbeat="0.2s", stall_after=2)
    run_id = app.runs.start("hang").id
    run = drive_run(app, run_id, timeout=20)
    assert run.state is RunState.SUCCEEDED
    assert run.phase("scan").result == "scanned on attempt 2"
    stalled = [e for e in app.runs.events(run_id) if e.topic == "phase.stalled"]
    assert len(stalled) == 1 and stalled[0].data["phase"] == "scan"


def test_retry_from_a_phase_reuses_everything_before_it(app: coord.App) -> None:
    broken = {"c": True}
    runs: list[str] = []

    @app.task(retries=0)
    async def work(ctx: coord.Context) -> str:
        runs.append(ctx.phase or "?")
        if broken.get(ctx.phase or ""):
            raise coord.FatalError("c is broken")
        return f"{ctx.phase}:{sorted(ctx.results)}"

    wf = app.workflow("chain")
    wf.phase("a", task=work)
    wf.phase("b", task=work, after=["a"])
    wf.phase("c", task=work, after=["b"])
    run_id = app.runs.start("chain").id
    assert drive_run(app, run_id).state is RunState.FAILED
    assert runs == ["a", "b", "c"]

    broken["c"] = False
    app.runs.retry(run_id)
    run = drive_run(app, run_id)
    assert run.state is RunState.SUCCEEDED
    assert runs == ["a", "b", "c", "c"]  # a and b were not run again
    assert run.phase("c").result == "c:['b']" and run.phase("c").attempt == 2
    assert run.phase("a").attempt == run.phase("b").attempt == 1
    assert "run.retried" in [e.topic for e in app.runs.events(run_id)]
    with pytest.raises(coord.Conflict, match="only failed or cancelled runs are retried"):
        app.runs.retry(run_id)


def test_retry_from_a_named_phase_runs_it_and_its_descendants_again(app: coord.App) -> None:
    runs: list[str] = []

    @app.task(retries=0)
    async def work(ctx: coord.Context) -> str:
        runs.append(ctx.phase or "?")
        if ctx.phase == "c" and runs.count("c") == 1:
            raise coord.FatalError("first c fails")
        return ctx.phase or "?"

    wf = app.workflow("abc")
    wf.phase("a", task=work)
    wf.phase("b", task=work, after=["a"])
    wf.phase("c", task=work, after=["b"])
    run_id = app.runs.start("abc").id
    drive_run(app, run_id)
    app.runs.retry(run_id, from_phase="b")
    run = drive_run(app, run_id)
    assert run.state is RunState.SUCCEEDED
    assert runs == ["a", "b", "c", "b", "c"]
    with pytest.raises(coord.InvalidInput, match="no phase"):
        app.runs.retry(run_id, from_phase="zzz")


def test_a_task_cancelled_by_hand_fails_its_phase_through_the_reconciler(
    app: coord.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("coord.runtime.worker._RECONCILE_AFTER", 0.0)

    @app.task
    async def wait_forever(ctx: coord.Context) -> None:
        await asyncio.sleep(60)

    app.workflow("stuck").phase("wait", task=wait_forever)
    run_id = app.runs.start("stuck").id
    task = app.list_tasks(name="wait_forever")[0]
    app.cancel(task.id)  # not through the run: the run learns of it by looking again
    run = drive_run(app, run_id, timeout=20)
    assert run.state is RunState.FAILED
    assert run.phase("wait").error["reason"] == "task_cancelled"  # type: ignore[index]


def test_artifacts_keep_their_provenance_and_the_dossier_holds_everything(
    app: coord.App, tmp_path: Path
) -> None:
    @app.task
    async def research(ctx: coord.Context) -> dict[str, Any]:
        digest = await ctx.artifact("notes.txt", "raw notes", tool="browser@2")
        return {"notes": digest, "scores": {"depth": 0.9}}

    @app.task
    async def write(ctx: coord.Context) -> dict[str, Any]:
        notes = ctx.results["research"]["notes"]
        doc = await ctx.artifact("paper.json", {"title": "T"}, inputs=[notes])
        return {"paper": doc}

    wf = app.workflow("paper")
    wf.phase("research", task=research, gate={"rubric": {"depth": 0.5}, "evidence": ["notes.txt"]})
    wf.phase("write", task=write, after=["research"])
    run_id = app.runs.start("paper").id
    assert drive_run(app, run_id).state is RunState.SUCCEEDED

    notes, paper = app.runs.artifacts(run_id)
    assert (notes.phase, notes.name, notes.tool, notes.producer) == (
        "research",
        "notes.txt",
        "browser@2",
        "research",
    )
    assert notes.media_type.startswith("text/plain") and notes.size == len("raw notes")
    assert paper.inputs == [notes.digest] and paper.task_attempt == 1
    assert app.runs.artifact(run_id, notes.digest) == b"raw notes"

    out = tmp_path / "dossier"
    files = app.runs.dossier(run_id).write(out)
    assert "artifacts/research/notes.txt" in files and "events.jsonl" in files
    assert (out / "artifacts" / "research" / "notes.txt").read_bytes() == b"raw notes"
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["id"] == run_id and run_json["state"] == "succeeded"
    gates = json.loads((out / "gates.json").read_text())
    assert [g["topic"] for g in gates] == ["phase.gate.passed"]
    assert json.loads((out / "cost.json").read_text())["run_id"] == run_id
    lines = (out / "events.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["topic"] and len(lines) == len(app.runs.events(run_id))
    with pytest.raises(coord.Conflict, match="not an empty folder"):
        app.runs.dossier(run_id).write(out)


def test_heartbeats_of_a_phase_task_are_phase_progress_events(app: coord.App) -> None:
    @app.task
    async def crunch(ctx: coord.Context) -> str:
        for step in (1, 2):
            ctx.heartbeat(progress=step / 2, message=f"chunk {step} of 2")
            await asyncio.sleep(0.4)
        return "crunched"

    app.workflow("crunch").phase("crunch", task=crunch)
    run_id = app.runs.start("crunch").id
    assert drive_run(app, run_id).state is RunState.SUCCEEDED
    progress = [e.data for e in app.runs.events(run_id) if e.topic == "phase.progress"]
    assert progress == [
        {"phase": "crunch", "progress": 0.5, "message": "chunk 1 of 2"},
        {"phase": "crunch", "progress": 1.0, "message": "chunk 2 of 2"},
    ]
    plain = app.enqueue("crunch")  # the same task outside a run: task.progress
    work_until(app, lambda: app.get_task(plain.id).state.is_terminal)
    assert "task.progress" in [e.topic for e in app.store.task_events(plain.id)]
