"""Budgets on both backends: every scope (the run, a phase, a fan-out phase) at every
position of the task whose charge goes over (first, middle, last of the scope, the
last task of the last phase), in every dimension (tokens, usd, tool seconds); and
every place usage is charged: task outcomes, lease renewals, fix loops, approvals,
compensations, and a limit lowered below what was used."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

import coord
from coord.domain.run_views import RunInfo
from coord.domain.runs import PhaseState, RunState
from coord.domain.views import EventInfo
from coord.services.runs import settled
from tests.helpers import drive_run, work_until

# The table's workflow: p0 -> p1 (a fan-out over 3 items, one at a time) -> p2, five
# tasks in a line: position 0 is p0's task, 1-3 are p1's items, 4 is p2's task.
PHASE_OF = {0: "p0", 1: "p1", 2: "p1", 3: "p1", 4: "p2"}
SPAN = {"p0": (0, 0), "p1": (1, 3), "p2": (4, 4)}  # each phase's first and last position
LIMIT = 100  # on the scope under test, in the dimension under test (usd: 1.00)
BASE, SPIKE = 10, 95  # every task charges BASE units; the one at `at` BASE + SPIKE
DIMENSIONS = ("tokens", "usd", "tool_seconds")


@dataclass(frozen=True)
class Case:
    """A budget on ``scope`` that the task at position ``at`` takes over."""

    scope: str  # "run" or "phase:NAME"
    at: int

    def ran(self) -> list[int]:
        """The positions that run before the run pauses: up to the one that went over."""
        return list(range(self.at + 1))

    def used(self) -> int:
        """What the scope used once the task at ``at`` went over (in units)."""
        charged = [p for p in self.ran() if self.scope == "run" or PHASE_OF[p] == self.phase]
        return BASE * len(charged) + SPIKE

    @property
    def phase(self) -> str | None:
        return None if self.scope == "run" else self.scope.removeprefix("phase:")


CASES = [
    Case("run", 0),  # the first task of the run
    Case("run", 2),  # a middle task (a middle fan-out item)
    Case("run", 4),  # the last task of the last phase
    Case("phase:p0", 0),  # a phase's only task: its first and its last
    Case("phase:p1", 1),  # the first item of a fan-out phase
    Case("phase:p1", 2),  # a middle item
    Case("phase:p1", 3),  # the last item: the phase's work is done
    Case("phase:p2", 4),  # the last phase's last task
]


def _workflow(scope: str, dimension: str) -> str:
    return f"{scope.replace(':', '.')}-{dimension}"


def _charge(ctx: coord.Context, dimension: str, units: int) -> None:
    if dimension == "tokens":
        ctx.charge(tokens_in=units // 2, tokens_out=units - units // 2)
    elif dimension == "usd":
        ctx.charge(usd=units / 100)
    else:
        ctx.charge(tool_seconds=units)


def _limit(dimension: str, units: float) -> dict[str, float]:
    return {dimension: units / 100 if dimension == "usd" else units}


def _amount(dimension: str, units: int) -> float:
    return units / 100 if dimension == "usd" else units


def table_app(app: coord.App) -> dict[str, list[int]]:
    """One workflow per (scope, dimension), the budget on that scope only; the run's
    input says which position goes over. Returns the positions each run ran."""
    ran: dict[str, list[int]] = {}

    @app.task(retries=0)
    async def spend(ctx: coord.Context, position: int | None = None) -> int:
        at = position if position is not None else int(ctx.item)
        assert ctx.run_id is not None
        ran.setdefault(ctx.run_id, []).append(at)
        _charge(ctx, ctx.input["dimension"], BASE + (SPIKE if at == ctx.input["at"] else 0))
        return at

    for scope in ("run", "phase:p0", "phase:p1", "phase:p2"):
        for dimension in DIMENSIONS:
            limit = _limit(dimension, LIMIT)
            wf = app.workflow(_workflow(scope, dimension), budget=limit if scope == "run" else None)
            phase_budget = {scope.removeprefix("phase:"): limit} if scope != "run" else {}
            wf.phase("p0", task=spend, params={"position": 0}, budget=phase_budget.get("p0"))
            wf.phase(
                "p1",
                task=spend,
                after=["p0"],
                fan_out={"over": "input.items", "parallelism": 1},
                budget=phase_budget.get("p1"),
            )
            wf.phase(
                "p2",
                task=spend,
                after=["p1"],
                params={"position": 4},
                budget=phase_budget.get("p2"),
            )
    return ran


def _drive_all(app: coord.App, run_ids: list[str]) -> dict[str, RunInfo]:
    work_until(app, lambda: all(settled(app.runs.get(r)) for r in run_ids), timeout=60)
    return {r: app.runs.get(r) for r in run_ids}


def _rounded(over: Any) -> Any:
    """An overrun with its amounts rounded (dollars are kept in micro-dollars)."""
    if not isinstance(over, dict):
        return over
    return {k: {n: round(v, 6) for n, v in limits.items()} for k, limits in over.items()}


def _exceeded_events(app: coord.App, run_id: str) -> list[EventInfo]:
    return [e for e in app.runs.events(run_id) if e.topic == "budget.exceeded"]


def test_every_budget_pauses_its_run_whichever_task_goes_over(app: coord.App) -> None:
    """The table: 8 positions x 3 dimensions, all runs driven by one worker at once."""
    ran = table_app(app)
    runs = {
        app.runs.start(
            _workflow(case.scope, dimension),
            {"items": [1, 2, 3], "at": case.at, "dimension": dimension},
        ).id: (case, dimension)
        for case in CASES
        for dimension in DIMENSIONS
    }
    problems: list[str] = []

    def check(ok: bool, run_id: str, what: str) -> None:
        if not ok:
            case, dimension = runs[run_id]
            problems.append(f"{case} {dimension}: {what}")

    for run_id, run in _drive_all(app, list(runs)).items():
        case, dimension = runs[run_id]
        over = {
            dimension: {"used": _amount(dimension, case.used()), "limit": _amount(dimension, LIMIT)}
        }
        check(run.state is RunState.PAUSED, run_id, f"state {run.state}, not paused")
        check(run.reason == "budget_exceeded", run_id, f"reason {run.reason}")
        detail = run.detail or {}
        check(detail.get("scope") == case.scope, run_id, f"detail {detail}")
        check(_rounded(detail.get("over")) == over, run_id, f"over {detail.get('over')}")
        check(ran.get(run_id) == case.ran(), run_id, f"ran {ran.get(run_id)}, not {case.ran()}")
        states = {p.name: p.state for p in run.phases}
        for name, (first, last) in SPAN.items():
            if case.at >= last:  # the phase's work is done: it still succeeds
                check(states[name] is PhaseState.SUCCEEDED, run_id, f"{name} is {states[name]}")
            elif case.at < first:  # nothing new starts
                check(states[name] is PhaseState.WAITING, run_id, f"{name} is {states[name]}")
        events = _exceeded_events(app, run_id)
        check(len(events) == 1, run_id, f"{len(events)} budget.exceeded events")
        if events:
            data = events[0].data or {}
            check(data.get("scope") == case.scope, run_id, f"event {data}")
            check(_rounded(data.get("over")) == over, run_id, f"event over {data}")
            check(data.get("phase") == case.phase, run_id, f"event phase {data.get('phase')}")
    assert not problems, "\n".join(problems)

    for run_id, (case, dimension) in runs.items():  # still over: it pauses again at once
        again = app.runs.resume(run_id)
        check(again.state is RunState.PAUSED, run_id, f"resumed over budget: {again.state}")
        check(len(_exceeded_events(app, run_id)) == 2, run_id, "no new budget.exceeded")
        raised = app.runs.set_budget(run_id, phase=case.phase, **_limit(dimension, 10 * LIMIT))
        check(raised.state is RunState.PAUSED, run_id, "raising a budget resumed the run")
        app.runs.resume(run_id)
    assert not problems, "\n".join(problems)

    for run_id, run in _drive_all(app, list(runs)).items():
        case, dimension = runs[run_id]
        check(run.state is RunState.SUCCEEDED, run_id, f"after raising: {run.state}")
        check(ran.get(run_id) == [0, 1, 2, 3, 4], run_id, f"ran {ran.get(run_id)}")
        check(run.phase("p1").result == [1, 2, 3], run_id, f"p1 {run.phase('p1').result}")
    assert not problems, "\n".join(problems)


def test_every_exceeded_scope_is_named_and_each_must_be_raised(app: coord.App) -> None:
    @app.task
    async def think(ctx: coord.Context) -> str:
        ctx.charge(tokens_out=200)
        return "thought"

    @app.task
    async def write(ctx: coord.Context) -> str:
        return "written"

    wf = app.workflow("both", budget={"tokens": 100})
    wf.phase("think", task=think, budget={"tokens": 50})
    wf.phase("write", task=write, after=["think"])
    run_id = app.runs.start("both").id
    run = drive_run(app, run_id)
    assert run.state is RunState.PAUSED and run.detail["scope"] == "run"
    assert run.detail["exceeded"] == [
        {"scope": "run", "over": {"tokens": {"used": 200, "limit": 100}}},
        {"scope": "phase:think", "over": {"tokens": {"used": 200, "limit": 50}}},
    ]
    assert [(e.data["scope"], e.data.get("phase")) for e in _exceeded_events(app, run_id)] == [
        ("run", None),
        ("phase:think", "think"),
    ]
    app.runs.set_budget(run_id, tokens=1000)
    run = app.runs.resume(run_id)  # the phase is still over its own budget
    assert run.state is RunState.PAUSED and run.detail["scope"] == "phase:think"
    assert run.phase("write").state is PhaseState.WAITING
    app.runs.set_budget(run_id, phase="think", tokens=1000)
    app.runs.resume(run_id)
    run = drive_run(app, run_id)
    assert run.state is RunState.SUCCEEDED and run.phase("write").result == "written"


def test_an_overrun_is_recorded_once_while_the_tasks_already_started_finish(
    app: coord.App,
) -> None:
    @app.task
    async def spend(ctx: coord.Context) -> int:
        ctx.charge(tokens_out=100)
        return int(ctx.item)

    wf = app.workflow("wide")
    wf.phase(
        "spend",
        task=spend,
        fan_out={"over": "input.items", "parallelism": 3},
        budget={"tokens": 50},
    )
    run_id = app.runs.start("wide", {"items": [0, 1, 2]}).id
    run = drive_run(
        app, run_id, until=lambda: app.runs.get(run_id).phase("spend").usage["tokens"] == 300
    )
    run = app.runs.get(run_id)
    # All three items were started before the first went over: they all finish, the
    # phase succeeds, and the run stays paused, its detail up to date.
    assert run.phase("spend").state is PhaseState.SUCCEEDED
    assert run.state is RunState.PAUSED and run.reason == "budget_exceeded"
    assert run.detail["over"] == {"tokens": {"used": 300, "limit": 50}}
    assert len(_exceeded_events(app, run_id)) == 1
    app.runs.set_budget(run_id, phase="spend", tokens=300)
    assert app.runs.resume(run_id).state is RunState.SUCCEEDED


def test_a_charge_sent_with_a_lease_renewal_pauses_the_run_while_its_task_runs(
    app: coord.App,
) -> None:
    """The worker reports usage with its lease renewals: the run pauses then, not only
    when the task ends; the task itself finishes, and nothing new starts."""
    paused_while_running = threading.Event()

    @app.task
    async def research(ctx: coord.Context) -> str:
        ctx.charge(tokens_out=900, tool_seconds=120)
        for _ in range(200):  # until the run shows it paused (or 10 s)
            if paused_while_running.is_set():
                return "paused while running"
            await asyncio.sleep(0.05)
        return "not paused while running"

    @app.task
    async def report(ctx: coord.Context) -> str:
        return "reported"

    wf = app.workflow("research")
    wf.phase("research", task=research, budget={"tokens": 500, "tool_seconds": 60})
    wf.phase("report", task=report, after=["research"])
    run_id = app.runs.start("research").id

    def paused_then_done() -> bool:
        run = app.runs.get(run_id)
        if run.state is RunState.PAUSED and run.phase("research").state is PhaseState.RUNNING:
            paused_while_running.set()
        return run.phase("research").state is PhaseState.SUCCEEDED

    drive_run(app, run_id, until=paused_then_done)
    time.sleep(0.2)
    run = app.runs.get(run_id)
    assert run.phase("research").result == "paused while running"
    assert run.state is RunState.PAUSED and run.reason == "budget_exceeded"
    assert run.detail["scope"] == "phase:research"
    assert run.detail["over"] == {
        "tokens": {"used": 900, "limit": 500},
        "tool_seconds": {"used": 120.0, "limit": 60.0},
    }
    assert run.phase("report").state is PhaseState.WAITING
    assert len(_exceeded_events(app, run_id)) == 1


def test_a_run_paused_by_hand_that_goes_over_a_budget_is_paused_for_it(
    app: coord.App,
) -> None:
    paused = threading.Event()

    @app.task
    async def think(ctx: coord.Context) -> str:
        for _ in range(200):  # until the run is paused by hand (or 10 s)
            if paused.is_set():
                break
            await asyncio.sleep(0.05)
        ctx.charge(tokens_out=200)
        return "thought"

    wf = app.workflow("held", budget={"tokens": 100})
    wf.phase("think", task=think)
    wf.phase("write", task=think, after=["think"])
    run_id = app.runs.start("held").id

    def pause_then_done() -> bool:
        run = app.runs.get(run_id)
        if run.state is RunState.RUNNING and not paused.is_set():
            app.runs.pause(run_id)
            paused.set()
        return run.phase("think").state is PhaseState.SUCCEEDED

    drive_run(app, run_id, until=pause_then_done)
    run = app.runs.get(run_id)
    assert run.state is RunState.PAUSED and run.reason == "budget_exceeded"
    assert run.detail["over"] == {"tokens": {"used": 200, "limit": 100}}
    reasons = [e.data["reason"] for e in app.runs.events(run_id) if e.topic == "run.paused"]
    assert reasons == ["requested", "budget_exceeded"]
    assert len(_exceeded_events(app, run_id)) == 1


def test_a_fix_loop_over_the_phase_budget_does_not_run_the_phase_again(
    app: coord.App,
) -> None:
    @app.task
    async def draft(ctx: coord.Context) -> dict[str, Any]:
        ctx.charge(tokens_out=10)
        return {"scores": {"clarity": 0.9 if ctx.loop else 0.2}}

    @app.task
    async def improve(ctx: coord.Context) -> str:
        ctx.charge(tokens_out=500)
        return "clearer"

    wf = app.workflow("fixed")
    wf.phase(
        "draft",
        task=draft,
        budget={"tokens": 100},
        gate={"rubric": {"clarity": 0.5}, "fix": improve, "max_loops": 2},
    )
    run_id = app.runs.start("fixed").id
    run = drive_run(app, run_id)
    assert run.state is RunState.PAUSED and run.detail["scope"] == "phase:draft"
    assert run.phase("draft").state is PhaseState.FIXING and run.phase("draft").attempt == 1
    app.runs.set_budget(run_id, phase="draft", tokens=1000)
    app.runs.resume(run_id)
    run = drive_run(app, run_id)
    assert run.state is RunState.SUCCEEDED and run.phase("draft").attempt == 2


def test_an_approval_after_an_over_budget_phase_does_not_start_the_next(
    app: coord.App,
) -> None:
    @app.task
    async def build(ctx: coord.Context) -> str:
        ctx.charge(usd=3)
        return "v1"

    @app.task
    async def release(ctx: coord.Context) -> str:
        return "released"

    wf = app.workflow("approved")
    wf.phase("build", task=build, budget={"usd": 2}, gate={"approval": "human"})
    wf.phase("release", task=release, after=["build"])
    app.add_agent("lead", human=True)
    run_id = app.runs.start("approved").id
    run = drive_run(app, run_id)
    # The build's work is done: it waits for its approval, in a paused run.
    assert run.phase("build").state is PhaseState.AWAITING_APPROVAL
    assert run.state is RunState.PAUSED and run.detail["scope"] == "phase:build"
    run = app.runs.approve(run_id, "build", by="lead")
    assert run.phase("build").state is PhaseState.SUCCEEDED
    assert run.state is RunState.PAUSED and run.phase("release").state is PhaseState.WAITING
    app.runs.set_budget(run_id, phase="build", usd=5)
    app.runs.resume(run_id)
    assert drive_run(app, run_id).state is RunState.SUCCEEDED


def test_a_limit_lowered_below_what_was_used_pauses_the_run_at_once(app: coord.App) -> None:
    @app.task
    async def build(ctx: coord.Context) -> str:
        ctx.charge(tokens_out=300)
        return "v1"

    wf = app.workflow("lowered")
    wf.phase("build", task=build, gate={"approval": "human"})
    wf.phase("release", task=build, after=["build"])
    app.add_agent("lead", human=True)
    run_id = app.runs.start("lowered").id
    assert drive_run(app, run_id).state is RunState.RUNNING  # awaiting the approval
    run = app.runs.set_budget(run_id, tokens=200)
    assert run.state is RunState.PAUSED and run.reason == "budget_exceeded"
    assert run.detail["over"] == {"tokens": {"used": 300, "limit": 200}}
    assert len(_exceeded_events(app, run_id)) == 1


def _compensated_app(app: coord.App, fail: bool) -> None:
    @app.task(retries=0)
    async def deploy(ctx: coord.Context) -> str:
        ctx.charge(tokens_out=150 if not fail else 50)
        return "deployed"

    @app.task(retries=0)
    async def verify(ctx: coord.Context) -> str:
        raise coord.FatalError("smoke test failed")

    @app.task(retries=0)
    async def rollback(ctx: coord.Context) -> str:
        ctx.charge(tokens_out=100, usd=2)
        return "rolled back"

    wf = app.workflow("deploy", budget={"tokens": 100, "usd": 1})
    wf.phase("deploy", task=deploy, compensate=rollback)
    wf.phase("verify", task=verify, after=["deploy"])


def test_compensations_run_past_a_budget_and_the_overrun_is_recorded(app: coord.App) -> None:
    _compensated_app(app, fail=True)
    run_id = app.runs.start("deploy").id
    run = drive_run(app, run_id)
    # Undoing work never stops for its cost, but the overrun is not silent.
    assert run.state is RunState.FAILED and run.reason == "phase_failed"
    assert run.phase("deploy").state is PhaseState.COMPENSATED
    over = {"tokens": {"used": 150, "limit": 100}, "usd": {"used": 2.0, "limit": 1.0}}
    assert run.detail["exceeded"] == [{"scope": "run", "over": over}]
    events = _exceeded_events(app, run_id)
    assert [e.data for e in events] == [{"scope": "run", "over": over}]
    failed = next(e for e in app.runs.events(run_id) if e.topic == "run.failed")
    assert failed.data["detail"]["exceeded"] == [{"scope": "run", "over": over}]


def test_a_cancelled_over_budget_run_records_only_what_its_compensation_adds(
    app: coord.App,
) -> None:
    _compensated_app(app, fail=False)
    run_id = app.runs.start("deploy").id
    run = drive_run(app, run_id)
    assert run.state is RunState.PAUSED and run.detail["over"] == {
        "tokens": {"used": 150, "limit": 100}
    }
    app.runs.cancel(run_id)
    run = drive_run(app, run_id)
    assert run.state is RunState.CANCELLED and run.phase("deploy").state is PhaseState.COMPENSATED
    over = {"tokens": {"used": 250, "limit": 100}, "usd": {"used": 2.0, "limit": 1.0}}
    assert run.detail["exceeded"] == [{"scope": "run", "over": over}]
    # The tokens overrun was recorded when the run paused; the rollback adds dollars.
    assert [e.data["over"] for e in _exceeded_events(app, run_id)] == [
        {"tokens": {"used": 150, "limit": 100}},
        over,
    ]
