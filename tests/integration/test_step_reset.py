"""Retrying with memoized steps reset, on both backends: a step whose result was
recorded before the code after it failed runs again after ``reset_steps`` (all of
them, or the named ones), and its new result is used; without a reset it replays.
Also ``retry_task``: which states it takes, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import coord
from coord.domain.tasks import TaskState
from tests.helpers import all_final, work_until


class Source:
    """Stands for an external call whose code has a bug until ``fixed``."""

    def __init__(self) -> None:
        self.fixed = False
        self.calls: list[str] = []

    def fetch(self, what: str) -> str:
        self.calls.append(what)
        return f"{what}: {'good' if self.fixed else 'garbled'} data"


def _dead(app: coord.App, task_id: str) -> None:
    work_until(app, all_final(app, [task_id]))
    assert app.get_task(task_id).state is TaskState.DEAD


def _replayed(app: coord.App, task_id: str) -> list[dict[str, Any] | None]:
    return [e.data for e in app.store.task_events(task_id) if e.topic == "task.replayed"]


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_reset_step_runs_again_and_its_new_result_is_used(app: coord.App, kind: str) -> None:
    source = Source()

    def check(data: str) -> str:
        if "garbled" in data:  # the code after the step fails on what the step returned
            raise coord.FatalError(f"cannot use {data!r}")
        return data

    if kind == "async":

        @app.task(retries=0)
        async def job(ctx: coord.Context) -> str:
            return check(await ctx.step("fetch", source.fetch, "orders"))

    else:

        @app.task(retries=0)
        def job(ctx: coord.SyncContext) -> str:
            return check(ctx.step("fetch", source.fetch, "orders"))

    handle = app.enqueue(job)
    _dead(app, handle.id)
    source.fixed = True  # the bug is fixed, but the garbled result is recorded

    assert app.replay_dead([handle.id]) == [handle.id]
    _dead(app, handle.id)  # a plain retry replays the recorded value: dead again
    assert source.calls == ["orders"]

    assert app.replay_dead([handle.id], reset_steps=True, actor="ops") == [handle.id]
    work_until(app, all_final(app, [handle.id]))
    assert handle.result(1) == "orders: good data"
    assert source.calls == ["orders", "orders"]
    assert _replayed(app, handle.id) == [
        None,
        {"steps_reset": ["fetch"], "checkpoint_reset": True},
    ]
    replayed = [e for e in app.store.task_events(handle.id) if e.topic == "task.replayed"]
    assert replayed[-1].actor == "ops"


def test_only_the_named_steps_are_reset_every_call_of_each(app: coord.App) -> None:
    source = Source()

    @app.task(retries=0)
    async def job(ctx: coord.Context) -> list[str]:
        first = await ctx.step("fetch", source.fetch, "page 1")
        second = await ctx.step("fetch", source.fetch, "page 2")  # recorded as fetch#2
        stored = await ctx.step("store", source.fetch, "store")
        await ctx.checkpoint({"pages": 2})
        if not source.fixed:
            raise coord.FatalError("the bug after the steps")
        return [first, second, stored]

    handle = app.enqueue(job)
    _dead(app, handle.id)
    assert app.get_task(handle.id).checkpoint == {"pages": 2}
    source.fixed = True
    retried = app.retry_task(handle.id, reset_steps=["fetch"])
    assert retried.state is TaskState.PENDING and retried.checkpoint is None
    work_until(app, all_final(app, [handle.id]))
    # both calls of fetch ran again (with the fix); store replayed its recorded result
    assert handle.result(1) == ["page 1: good data", "page 2: good data", "store: garbled data"]
    assert source.calls == ["page 1", "page 2", "store", "page 1", "page 2"]
    assert _replayed(app, handle.id)[-1] == {
        "steps_reset": ["fetch", "fetch#2"],
        "checkpoint_reset": True,
    }


def test_every_dead_task_can_be_replayed_with_its_steps_reset(app: coord.App) -> None:
    source = Source()

    @app.task(retries=0)
    async def job(ctx: coord.Context, n: int) -> str:
        data = await ctx.step("fetch", source.fetch, f"item {n}")
        if "garbled" in data:
            raise coord.FatalError("garbled")
        return data

    ids = [h.id for h in app.enqueue_many(job, [{"n": 1}, {"n": 2}])]
    work_until(app, all_final(app, ids))
    source.fixed = True
    assert sorted(app.replay_dead(reset_steps=["fetch"])) == sorted(ids)
    work_until(app, all_final(app, ids))
    assert {app.get_task(i).result for i in ids} == {"item 1: good data", "item 2: good data"}


def test_a_plain_retry_keeps_the_steps_and_the_checkpoint(app: coord.App) -> None:
    source = Source()

    @app.task(retries=0)
    async def job(ctx: coord.Context) -> Any:
        await ctx.step("fetch", source.fetch, "once")
        seen = ctx.last_checkpoint
        await ctx.checkpoint({"seen": (seen or {}).get("seen", 0) + 1})
        if not source.fixed:
            raise coord.FatalError("not yet")
        return seen

    handle = app.enqueue(job)
    _dead(app, handle.id)
    source.fixed = True
    app.retry_task(handle.id)
    work_until(app, all_final(app, [handle.id]))
    assert handle.result(1) == {"seen": 1} and source.calls == ["once"]
    assert _replayed(app, handle.id) == [None]


def test_retry_task_takes_failed_and_cancelled_tasks_now(app: coord.App) -> None:
    @app.task(retries=2, retry_backoff=3600, retry_backoff_max=3600)
    async def slow_retry(ctx: coord.Context) -> int:
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails; the next one is an hour away")
        return ctx.attempt

    @app.task
    async def later(ctx: coord.Context) -> str:
        return "ran"

    waiting = app.enqueue(slow_retry)
    work_until(app, lambda: app.get_task(waiting.id).state is TaskState.FAILED)
    retried = app.retry_task(waiting.id)
    assert retried.state is TaskState.PENDING
    assert (retried.run_at - datetime.now(UTC)).total_seconds() < 60  # due now, not in 1 h
    assert retried.max_attempts == retried.attempt + 3  # a fresh set: 1 + retries
    cancelled = app.enqueue(later, delay=3600)
    app.cancel(cancelled.id)
    assert app.retry_task(cancelled.id).state is TaskState.PENDING
    work_until(app, all_final(app, [waiting.id, cancelled.id]))
    assert (waiting.result(1), cancelled.result(1)) == (2, "ran")


def test_retry_task_refuses_what_it_cannot_retry_and_changes_nothing(app: coord.App) -> None:
    @app.task(retries=0)
    async def job(ctx: coord.Context) -> None:
        await ctx.step("fetch", lambda: "x")
        raise coord.FatalError("dead")

    @app.task
    async def fine(ctx: coord.Context) -> str:
        return "ok"

    dead = app.enqueue(job)
    done = app.enqueue(fine)
    _dead(app, dead.id)
    work_until(app, all_final(app, [done.id]))
    pending = app.enqueue(fine, delay=3600)
    for task_id, state in ((done.id, "succeeded"), (pending.id, "pending")):
        with pytest.raises(coord.Conflict, match=f"is {state}: only a dead, failed or cancelled"):
            app.retry_task(task_id)
    with pytest.raises(coord.InvalidInput, match=r"no step 'fecth' was recorded.*fetch"):
        app.retry_task(dead.id, reset_steps=["fecth"])
    with pytest.raises(coord.InvalidInput, match="name at least one step"):
        app.retry_task(dead.id, reset_steps=[])
    with pytest.raises(coord.InvalidInput, match="no step 'nope'"):
        app.replay_dead([dead.id], reset_steps=["nope"])
    with pytest.raises(coord.NotFound):
        app.retry_task("01a20000-0000-7000-8000-000000000000")
    assert app.get_task(dead.id).state is TaskState.DEAD
    assert set(app.store.load_steps(dead.id)) == {"fetch"}
    assert _replayed(app, dead.id) == []


def test_a_task_of_a_run_is_retried_with_its_run(app: coord.App) -> None:
    @app.task(retries=0)
    async def broken(ctx: coord.Context) -> None:
        raise coord.FatalError("phase fails")

    app.workflow("flow").phase("only", task=broken)
    run = app.runs.start("flow", {})
    work_until(app, lambda: any(t.state is TaskState.DEAD for t in app.list_tasks()))
    [task] = [t for t in app.list_tasks() if t.run_id == run.id]
    with pytest.raises(coord.Conflict, match="retry the run"):
        app.retry_task(task.id, reset_steps=True)
