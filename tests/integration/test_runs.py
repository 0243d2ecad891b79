"""Workflow runs on both backends: the DAG order and parallelism, inputs and results,
fan-out merged in item order, idempotent starts, pause/resume, budgets, and the
run's history."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

import coord
from coord.domain.runs import PhaseState, RunChanges, RunState
from coord.domain.tasks import Usage
from coord.ports.runs import Decide, RunTx
from coord.runtime import outcomes
from coord.workflows.worker_hooks import EngineHooks
from tests.helpers import drive_run, work_until


def test_phases_run_in_dag_order_with_input_and_the_results_they_depend_on(
    app: coord.App,
) -> None:
    seen: dict[str, Any] = {}

    @app.task
    async def plan(ctx: coord.Context) -> dict[str, Any]:
        seen["plan"] = (ctx.run_id, ctx.phase, ctx.input, ctx.results)
        return {"steps": 3}

    @app.task
    async def build(ctx: coord.Context, target: str) -> str:
        seen[ctx.phase or "?"] = (ctx.results, target)
        return f"built {target} in {ctx.results['plan']['steps']} steps"

    @app.task
    async def ship(ctx: coord.Context) -> list[str]:
        seen["ship"] = ctx.results
        return sorted(ctx.results.values())

    wf = app.workflow("release")
    wf.phase("plan", task=plan)
    wf.phase("web", task=build, after=["plan"], params={"target": "web"})
    wf.phase("api", task=build, after=["plan"], params={"target": "api"})
    wf.phase("ship", task=ship, after=["web", "api"])
    handle = app.runs.start("release", {"version": "1.2"})
    run = drive_run(app, handle.id)

    assert run.state is RunState.SUCCEEDED
    assert seen["plan"] == (handle.id, "plan", {"version": "1.2"}, {})
    assert seen["web"] == ({"plan": {"steps": 3}}, "web")
    assert seen["api"] == ({"plan": {"steps": 3}}, "api")
    assert seen["ship"] == {"web": "built web in 3 steps", "api": "built api in 3 steps"}
    assert run.phase("ship").result == ["built api in 3 steps", "built web in 3 steps"]
    assert all(p.attempt == 1 and p.state is PhaseState.SUCCEEDED for p in run.phases)
    topics = [e.topic for e in app.runs.events(handle.id) if not e.topic.startswith("task.")]
    assert topics[0] == "run.started" and topics[-1] == "run.succeeded"
    order = [e.data["phase"] for e in app.runs.events(handle.id) if e.topic == "phase.started"]
    assert order[0] == "plan" and order[-1] == "ship" and set(order[1:3]) == {"web", "api"}


def test_independent_phases_run_at_the_same_time(app: coord.App) -> None:
    # Each branch waits until the other has started: run one after the other, they
    # would both time out.
    started = {"left": threading.Event(), "right": threading.Event()}

    @app.task
    async def root(ctx: coord.Context) -> None:
        return None

    @app.task
    async def branch(ctx: coord.Context, me: str, other: str) -> str:
        started[me].set()
        waited = await asyncio.to_thread(started[other].wait, 10)
        return "together" if waited else "alone"

    wf = app.workflow("fork")
    wf.phase("root", task=root)
    wf.phase("left", task=branch, after=["root"], params={"me": "left", "other": "right"})
    wf.phase("right", task=branch, after=["root"], params={"me": "right", "other": "left"})
    run = drive_run(app, app.runs.start("fork").id)
    assert run.state is RunState.SUCCEEDED
    assert run.phase("left").result == run.phase("right").result == "together"


def test_fan_out_finishing_out_of_order_merges_in_item_order_within_its_parallelism(
    app: coord.App,
) -> None:
    live = {"now": 0, "max": 0}
    finished: list[int] = []

    @app.task
    async def source(ctx: coord.Context) -> dict[str, Any]:
        return {"ideas": [f"idea-{i}" for i in range(7)]}

    @app.task
    async def expand(ctx: coord.Context) -> dict[str, Any]:
        live["now"] += 1
        live["max"] = max(live["max"], live["now"])
        index = ctx.item_index
        assert index is not None
        await asyncio.sleep(0.02 * ((7 - index) % 4))  # later items often finish first
        live["now"] -= 1
        finished.append(index)
        return {"text": ctx.item.upper(), "scores": {"quality": 0.5 + index / 20}}

    wf = app.workflow("fan")
    wf.phase("source", task=source)
    wf.phase("expand", task=expand, after=["source"], fan_out={"over": "ideas", "parallelism": 3})
    run = drive_run(app, app.runs.start("fan").id)

    assert run.state is RunState.SUCCEEDED
    assert finished != sorted(finished)  # they did finish out of order
    assert live["max"] == 3
    assert run.phase("expand").result == [
        {"text": f"IDEA-{i}", "scores": {"quality": 0.5 + i / 20}} for i in range(7)
    ]
    assert run.phase("expand").items == 7


def test_fan_out_over_the_run_input_and_over_an_empty_list(app: coord.App) -> None:
    @app.task
    async def double(ctx: coord.Context) -> int:
        return int(ctx.item) * 2

    wf = app.workflow("numbers")
    wf.phase("double", task=double, fan_out="input.values")
    run = drive_run(app, app.runs.start("numbers", {"values": [3, 1, 2]}).id)
    assert run.phase("double").result == [6, 2, 4]
    empty = drive_run(app, app.runs.start("numbers", {"values": []}).id)
    assert empty.state is RunState.SUCCEEDED and empty.phase("double").result == []
    missing = drive_run(app, app.runs.start("numbers", {"other": 1}).id)
    assert missing.state is RunState.FAILED
    error = missing.phase("double").error
    assert error is not None and error["reason"] == "bad_fan_out"
    assert "values" in error["detail"]["message"]


def test_the_same_key_starts_one_run_and_another_input_is_a_conflict(app: coord.App) -> None:
    calls: list[Any] = []

    @app.task
    async def once(ctx: coord.Context) -> None:
        calls.append(ctx.input)

    app.workflow("once").phase("only", task=once)
    first = app.runs.start("once", {"n": 1}, key="nightly-2026-12-01")
    again = app.runs.start("once", {"n": 1}, key="nightly-2026-12-01")
    assert (again.id, first.created, again.created) == (first.id, True, False)
    with pytest.raises(coord.IdempotencyConflict, match="nightly-2026-12-01"):
        app.runs.start("once", {"n": 2}, key="nightly-2026-12-01")
    drive_run(app, first.id)
    assert calls == [{"n": 1}]
    assert len(app.runs.find()) == 1


def test_a_workflow_with_an_unregistered_task_or_bad_input_starts_nothing(
    app: coord.App,
) -> None:
    wf = app.workflow("ghost")
    wf.phase("a", task="never_declared")
    with pytest.raises(coord.UnknownTask, match="never_declared"):
        app.runs.start("ghost")

    @app.task
    async def noop(ctx: coord.Context) -> None: ...

    app.workflow("fine").phase("a", task=noop)
    with pytest.raises(coord.InvalidInput, match="not JSON"):
        app.runs.start("fine", {"when": object()})
    assert app.runs.find() == []


def test_pause_starts_nothing_new_until_resumed(app: coord.App) -> None:
    gate = threading.Event()

    @app.task
    async def slow(ctx: coord.Context) -> str:
        await asyncio.to_thread(gate.wait, 10)
        return "slow done"

    @app.task
    async def after(ctx: coord.Context) -> str:
        return "after done"

    wf = app.workflow("pausable")
    wf.phase("slow", task=slow)
    wf.phase("after", task=after, after=["slow"])
    run_id = app.runs.start("pausable").id

    def paused_then_finished() -> bool:
        run = app.runs.get(run_id)
        if run.phase("slow").state is PhaseState.RUNNING and run.state is RunState.RUNNING:
            app.runs.pause(run_id)
            gate.set()
        return run.state is RunState.PAUSED and run.phase("slow").state is PhaseState.SUCCEEDED

    drive_run(app, run_id, until=paused_then_finished)
    time.sleep(0.3)
    run = app.runs.get(run_id)
    assert run.state is RunState.PAUSED and run.reason == "requested"
    assert run.phase("after").state is PhaseState.WAITING  # nothing new started
    with pytest.raises(coord.Conflict, match="only a running run can be paused"):
        app.runs.pause(run_id)
    app.runs.resume(run_id)
    run = drive_run(app, run_id)
    assert run.state is RunState.SUCCEEDED and run.phase("after").result == "after done"
    topics = [e.topic for e in app.runs.events(run_id)]
    assert topics.index("run.paused") < topics.index("run.resumed")


def test_a_budget_over_its_limit_pauses_the_run_until_raised_and_resumed(
    app: coord.App,
) -> None:
    @app.task
    async def think(ctx: coord.Context) -> str:
        ctx.charge(tokens_in=700, tokens_out=500, usd=0.25)
        return "thought"

    @app.task
    async def write(ctx: coord.Context) -> str:
        return "written"

    wf = app.workflow("costly", budget={"tokens": 1000, "usd": 5})
    wf.phase("think", task=think, budget={"tokens": 5000})
    wf.phase("write", task=write, after=["think"])
    run_id = app.runs.start("costly").id
    run = drive_run(app, run_id)

    assert run.state is RunState.PAUSED and run.reason == "budget_exceeded"
    assert run.detail["scope"] == "run"
    assert run.detail["over"]["tokens"] == {"used": 1200, "limit": 1000}
    assert run.phase("think").state is PhaseState.SUCCEEDED
    assert run.phase("write").state is PhaseState.WAITING
    assert run.usage["tokens"] == 1200 and run.usage["usd"] == pytest.approx(0.25)
    cost = app.runs.cost(run_id)
    assert cost.total.over == {"tokens": {"used": 1200, "limit": 1000}}
    assert cost.phases[0].phase == "think" and cost.phases[0].budget == {"tokens": 5000}

    app.runs.resume(run_id)  # still over: it pauses again at once
    assert app.runs.get(run_id).state is RunState.PAUSED
    app.runs.set_budget(run_id, tokens=2000)
    assert app.runs.get(run_id).state is RunState.PAUSED  # raising alone does not resume
    app.runs.resume(run_id)
    run = drive_run(app, run_id)
    assert run.state is RunState.SUCCEEDED and run.budget == {"tokens": 2000, "usd": 5.0}
    topics = [e.topic for e in app.runs.events(run_id)]
    assert "budget.exceeded" in topics and "budget.set" in topics


def test_a_phase_budget_stops_new_work_in_that_phase(app: coord.App) -> None:
    @app.task
    async def source(ctx: coord.Context) -> dict[str, Any]:
        return {"items": list(range(6))}

    @app.task
    async def spend(ctx: coord.Context) -> int:
        ctx.charge(tokens_out=100)
        return int(ctx.item)

    wf = app.workflow("capped")
    wf.phase("source", task=source)
    wf.phase(
        "spend",
        task=spend,
        after=["source"],
        fan_out={"over": "items", "parallelism": 1},
        budget={"tokens": 250},
    )
    run_id = app.runs.start("capped").id
    run = drive_run(app, run_id)
    assert run.state is RunState.PAUSED and run.detail["scope"] == "phase:spend"
    assert run.phase("spend").usage["tokens"] == 300  # items 0-2 ran, then it stopped
    app.runs.set_budget(run_id, phase="spend", tokens=10_000)
    app.runs.resume(run_id)
    run = drive_run(app, run_id)
    assert run.state is RunState.SUCCEEDED and run.phase("spend").result == list(range(6))
    assert run.phase("spend").usage["tokens"] == 600


def test_run_list_filters_and_events_belong_to_their_run(app: coord.App) -> None:
    @app.task
    async def noop(ctx: coord.Context) -> None: ...

    app.workflow("a").phase("x", task=noop)
    app.workflow("b").phase("y", task=noop)
    first = app.runs.start("a").id
    second = app.runs.start("b").id
    drive_run(app, first)
    drive_run(app, second)
    assert [r.id for r in app.runs.find()] == [second, first]
    assert [r.id for r in app.runs.find(coord.RunFilter(workflow="a"))] == [first]
    assert [r.id for r in app.runs.find(coord.RunFilter(state=RunState.RUNNING))] == []
    events = app.runs.events(first)
    assert all(e.run_id in (first, None) for e in events)
    assert {e.task_id for e in events if e.task_id} <= {
        e.task_id for e in app.runs.events(first) if e.topic == "task.enqueued"
    }
    with pytest.raises(coord.NotFound):
        app.runs.get("01a2335f-ebd7-72c4-9b29-51399789015c")
    with pytest.raises(coord.InvalidInput, match="not a run id"):
        app.runs.get("nope")


def test_a_failed_attempt_of_a_phase_is_a_phase_error_and_is_retried(app: coord.App) -> None:
    @app.task(retries=2, retry_backoff=0.01)
    async def flaky(ctx: coord.Context) -> int:
        if ctx.attempt == 1:
            raise coord.TransientError("the model timed out")
        return ctx.attempt

    app.workflow("flaky").phase("flaky", task=flaky)
    run_id = app.runs.start("flaky").id
    run = drive_run(app, run_id)
    assert run.state is RunState.SUCCEEDED and run.phase("flaky").result == 2
    assert run.phase("flaky").attempt == 1  # the phase ran once; its task twice
    errors = [e.data for e in app.runs.events(run_id) if e.topic == "phase.error"]
    assert len(errors) == 1
    assert errors[0]["phase"] == "flaky" and errors[0]["error"]["message"] == "the model timed out"


def test_the_next_phase_starts_on_the_same_worker_without_a_claim_within_its_slots(
    app: coord.App,
) -> None:
    live = {"now": 0, "max": 0}

    @app.task
    async def hop(ctx: coord.Context) -> str:
        live["now"] += 1
        live["max"] = max(live["max"], live["now"])
        await asyncio.sleep(0.01)
        live["now"] -= 1
        return ctx.phase or "?"

    wf = app.workflow("hops")
    for i in range(4):
        wf.phase(f"h{i}", task=hop, after=[f"h{i - 1}"] if i else [])
    runs = [app.runs.start("hops").id for _ in range(3)]
    stats = work_until(
        app,
        lambda: all(app.runs.get(r).state is RunState.SUCCEEDED for r in runs),
        concurrency=1,
    )
    assert live["max"] == 1  # an eager start never goes past the worker's concurrency
    assert stats.eager >= 1 and stats.claimed == 12
    for run_id in runs:
        started = [e for e in app.runs.events(run_id) if e.topic == "task.started"]
        assert len(started) == 4 and {e.actor for e in started} == {started[0].actor}


def test_two_outcomes_of_a_run_stored_at_once_both_count_in_its_next_step(
    app: coord.App,
) -> None:
    """The second of two fan-out items finishing together waits for the first one's
    lock on the run, then decides on what that one committed (on PostgreSQL its
    statement began before that commit): the fan-out succeeds and the next phase
    starts in that transaction, not when the reconciler looks later."""

    @app.task
    async def item(ctx: coord.Context) -> str:
        return "done"

    wf = app.workflow("pair")
    wf.phase("c", task=item, fan_out={"over": "input.items", "parallelism": 2})
    wf.phase("d", task=item, after=["c"])
    run_id = app.runs.start("pair", {"items": [1, 2]}).id
    store = app.store
    first, second = store.claim("w1", ["default"], 2, 30.0)
    hooks = EngineHooks()
    one, two = (outcomes.succeeded(t, "done", Usage(), 0.01) for t in (first, second))
    held = _Held(hooks.after_outcome(one, first))

    with ThreadPoolExecutor(2) as pool:
        held_one = pool.submit(store.complete_run_task, "w1", one, run_id, held)
        assert held.holding.wait(10)
        waiting_one = pool.submit(
            store.complete_run_task, "w1", two, run_id, hooks.after_outcome(two, second)
        )
        _until_a_statement_waits_for_a_lock(app.settings.database_url)
        held.release.set()
        assert held_one.result(10).accepted and waiting_one.result(10).accepted

    run = app.runs.get(run_id)
    assert run.phase("c").state is PhaseState.SUCCEEDED
    assert run.phase("c").result == ["done", "done"]
    assert run.phase("d").state is PhaseState.RUNNING
    assert not [e for e in app.runs.events(run_id) if e.actor == "coord:reconciler"]


def test_a_signal_waiting_for_the_run_decides_on_what_was_committed_meanwhile(
    app: coord.App,
) -> None:
    """A pause that waits for the run's lock while the last phase's outcome is being
    stored sees the run succeeded once it gets the lock: it is refused and the run
    stays succeeded (a decision on the state read before the wait would pause it)."""

    @app.task
    async def only(ctx: coord.Context) -> str:
        return "done"

    app.workflow("one").phase("a", task=only)
    run_id = app.runs.start("one").id
    store = app.store
    (task,) = store.claim("w1", ["default"], 1, 30.0)
    outcome = outcomes.succeeded(task, "done", Usage(), 0.01)
    held = _Held(EngineHooks().after_outcome(outcome, task))

    with ThreadPoolExecutor(2) as pool:
        completing = pool.submit(store.complete_run_task, "w1", outcome, run_id, held)
        assert held.holding.wait(10)
        pausing = pool.submit(app.runs.pause, run_id)
        _until_a_statement_waits_for_a_lock(app.settings.database_url)
        held.release.set()
        assert completing.result(10).accepted
        with pytest.raises(coord.Conflict, match="only a running run can be paused"):
            pausing.result(10)

    run = app.runs.get(run_id)
    assert run.state is RunState.SUCCEEDED and run.phase("a").result == "done"
    assert [e.topic for e in app.runs.events(run_id) if e.topic == "run.paused"] == []


def _until_a_statement_waits_for_a_lock(url: str) -> None:
    """On PostgreSQL, until a session of the database waits for a lock; on SQLite,
    where the writer waits in BEGIN IMMEDIATE, a moment."""
    if not url.startswith("postgresql"):
        time.sleep(0.3)
        return
    deadline = time.monotonic() + 10
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting and waiting[0]:
                return
            time.sleep(0.01)
    raise AssertionError("no statement waited for the run's lock")


class _Held:
    """An engine decision that keeps the run locked (its transaction open) until
    released: ``holding`` is set once the lock is held."""

    def __init__(self, decide: Decide) -> None:
        self._decide = decide
        self.holding = threading.Event()
        self.release = threading.Event()

    def __call__(self, tx: RunTx) -> RunChanges:
        self.holding.set()
        self.release.wait(10)
        return self._decide(tx)


def test_a_workflow_declared_after_the_database_opened_runs_as_declared(
    app: coord.App,
) -> None:
    @app.task
    async def step(ctx: coord.Context) -> str:
        return ctx.phase or "?"

    assert app.store is not None  # open: the builder below is empty when declared
    wf = app.workflow("late")
    wf.phase("a", task=step)
    wf.phase("b", task=step, after=["a"])
    assert [p.name for p in app.runs.plan("late").phases] == ["a", "b"]
    run = drive_run(app, app.runs.start("late").id)
    assert run.state is RunState.SUCCEEDED and [p.result for p in run.phases] == ["a", "b"]
    wf.phase("c", task=step, after=["b"])  # it grows again: the next start records that
    assert sorted(app.runs.workflow("late").phases) == ["a", "b", "c"]
    again = drive_run(app, app.runs.start("late").id)
    assert [p.name for p in again.phases] == ["a", "b", "c"]
    with pytest.raises(coord.ConfigError, match="a workflow named 'late' is declared already"):
        app.workflow("late")


def test_the_runs_surface_for_asyncio_is_the_same(app: coord.App) -> None:
    @app.task
    async def step(ctx: coord.Context) -> str:
        return "done"

    app.workflow("quick").phase("a", task=step)

    async def start_and_read() -> tuple[bool, RunState, list[str]]:
        handle = await app.aio.runs.start("quick", key="once")
        assert isinstance(handle, coord.operations.AsyncRunHandle)
        found = await handle.info()
        listed = await app.aio.runs.find(coord.RunFilter(workflow="quick"))
        return handle.created, found.state, [r.id for r in listed]

    created, state, listed = asyncio.run(start_and_read())
    assert created is True and state in (RunState.PENDING, RunState.RUNNING)
    (run_id,) = listed
    assert drive_run(app, run_id).state is RunState.SUCCEEDED
    assert app.runs.start("quick", key="once") == app.runs.handle(run_id)
