"""The worker end to end on both backends: retries per error class, timeouts,
heartbeats and stalls, checkpoints, memoized steps, usage, middleware, cancel,
graceful shutdown, results and cron."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

import coord
from coord.domain.tasks import TaskState
from tests.helpers import all_final, run_until, work_until


def topics(app: coord.App, task_id: str) -> list[str]:
    return [e.topic for e in app.store.task_events(task_id)]


def test_transient_failures_retry_with_backoff_then_succeed(app: coord.App) -> None:
    @app.task(retries=3, retry_backoff=0.1, retry_backoff_max=0.3)
    async def flaky(ctx: coord.Context) -> int:
        if ctx.attempt < 3:
            raise RuntimeError(f"boom {ctx.attempt}")
        return ctx.attempt

    handle = app.enqueue(flaky)
    work_until(app, all_final(app, [handle.id]))
    info = handle.info()
    assert (info.state, info.result, info.attempt) == (TaskState.SUCCEEDED, 3, 3)
    assert info.error is not None and info.error["message"] == "boom 2"  # the last error stays
    assert topics(app, handle.id).count("task.retrying") == 2
    retry_events = [e for e in app.store.task_events(handle.id) if e.topic == "task.retrying"]
    assert all(0.05 <= e.data["retry_in_s"] <= 0.3 for e in retry_events)


def test_transient_error_retry_after_is_honoured(app: coord.App) -> None:
    @app.task(retries=1, retry_backoff=0, retry_backoff_max=60)
    async def limited(ctx: coord.Context) -> str:
        if ctx.attempt == 1:
            raise coord.TransientError("rate limited", retry_after=0.5)
        return "ok"

    handle = app.enqueue(limited)
    work_until(app, all_final(app, [handle.id]))
    events = app.store.task_events(handle.id)
    retried = next(e for e in events if e.topic == "task.retrying")
    started = [e for e in events if e.topic == "task.started"]
    assert retried.data["retry_in_s"] == 0.5
    assert (started[1].created_at - retried.created_at).total_seconds() >= 0.45


def test_fatal_error_goes_straight_to_dead_letters(app: coord.App) -> None:
    calls = []

    @app.task(retries=5)
    async def doomed(ctx: coord.Context) -> None:
        calls.append(ctx.attempt)
        raise coord.FatalError("cannot ever work")

    handle = app.enqueue(doomed)
    work_until(app, all_final(app, [handle.id]))
    info = handle.info()
    assert info.state is TaskState.DEAD and calls == [1]
    assert info.error is not None and info.error["type"] == "FatalError"
    assert "cannot ever work" in info.error["traceback"]
    with pytest.raises(coord.TaskFailed, match="cannot ever work"):
        handle.result(timeout=1)
    [group] = app.store.dead_letter_groups()
    assert group.count == 1


def test_schema_error_gets_one_repair_attempt_that_sees_the_error(app: coord.App) -> None:
    seen: list[dict[str, Any] | None] = []

    @app.task(retries=0, retry_backoff=60)  # no retries and a long backoff: neither applies
    async def extract(ctx: coord.Context, text: str) -> dict[str, str]:
        seen.append(ctx.last_error)
        if ctx.attempt == 1:
            raise coord.SchemaError("missing field 'title'")
        return {"title": text}

    handle = app.enqueue(extract, {"text": "t"})
    work_until(app, all_final(app, [handle.id]))
    info = handle.info()
    assert (info.state, info.result, info.attempt) == (TaskState.SUCCEEDED, {"title": "t"}, 2)
    assert seen[0] is None
    assert seen[1] is not None and seen[1]["type"] == "SchemaError"
    assert seen[1]["message"] == "missing field 'title'"
    retried = next(e for e in app.store.task_events(handle.id) if e.topic == "task.retrying")
    assert retried.data["retry_in_s"] == 0


def test_a_second_schema_error_in_a_row_is_dead(app: coord.App) -> None:
    @app.task(retries=5, retry_backoff=0.01)
    async def hopeless(ctx: coord.Context) -> None:
        raise coord.SchemaError(f"still wrong ({ctx.attempt})")

    handle = app.enqueue(hopeless)
    work_until(app, all_final(app, [handle.id]))
    info = handle.info()
    assert (info.state, info.attempt) == (TaskState.DEAD, 2)
    assert info.error is not None and info.error["message"] == "still wrong (2)"


def test_exhausted_retries_end_dead(app: coord.App) -> None:
    @app.task(retries=2, retry_backoff=0.01)
    def always_fails(ctx: coord.SyncContext) -> None:
        raise ValueError("nope")

    handle = app.enqueue(always_fails)
    work_until(app, all_final(app, [handle.id]))
    info = handle.info()
    assert (info.state, info.attempt) == (TaskState.DEAD, 3)
    assert topics(app, handle.id)[-1] == "task.dead"


def test_sync_handlers_run_in_threads(app: coord.App) -> None:
    seen = []

    @app.task
    def blocking(ctx: coord.SyncContext, n: int) -> int:
        seen.append(threading.current_thread().name)
        time.sleep(0.05)
        return n * 2

    handles = app.enqueue_many(blocking, [{"n": i} for i in range(8)])
    work_until(app, all_final(app, [h.id for h in handles]), concurrency=8)
    assert [h.result(1) for h in handles] == [i * 2 for i in range(8)]
    assert all(name.startswith("coord-handler") for name in seen)


def test_timeout_fails_the_attempt_and_retries(app: coord.App) -> None:
    @app.task(timeout=0.2, retries=1, retry_backoff=0)
    async def slow(ctx: coord.Context) -> str:
        if ctx.attempt == 1:
            await asyncio.sleep(5)
        return "fast enough"

    handle = app.enqueue(slow)
    started = time.monotonic()
    work_until(app, all_final(app, [handle.id]))
    assert time.monotonic() - started < 4
    info = handle.info()
    assert (info.state, info.result) == (TaskState.SUCCEEDED, "fast enough")
    assert info.error is not None and info.error["type"] == "HandlerTimeout"


def test_missed_heartbeats_stall_the_task_which_is_retried(app: coord.App) -> None:
    @app.task(heartbeat=0.2, stall_after=2, retries=1, timeout=None)
    async def hangs_once(ctx: coord.Context) -> str:
        if ctx.attempt == 1:
            await asyncio.sleep(30)  # hung: never heartbeats
        for _ in range(3):
            ctx.heartbeat(progress=0.5, message="working")
            await asyncio.sleep(0.1)
        return "recovered"

    handle = app.enqueue(hangs_once)
    started = time.monotonic()
    work_until(app, all_final(app, [handle.id]))
    assert time.monotonic() - started < 10
    info = handle.info()
    assert (info.state, info.result, info.attempt) == (TaskState.SUCCEEDED, "recovered", 2)
    history = topics(app, handle.id)
    assert "task.stalled" in history and "task.progress" in history
    assert info.progress == 0.5 and info.progress_message == "working"


def test_heartbeating_task_keeps_running_past_its_lease(app: coord.App) -> None:
    @app.task(heartbeat=0.3, timeout=None)
    async def long(ctx: coord.Context) -> int:
        for i in range(25):  # 2.5 s: longer than the 2 s lease
            ctx.heartbeat(progress=i / 25)
            await asyncio.sleep(0.1)
        return ctx.attempt

    handle = app.enqueue(long)
    work_until(app, all_final(app, [handle.id]))
    assert handle.result(1) == 1  # never lost its lease, never retried


def test_checkpoint_is_given_to_the_retry(app: coord.App) -> None:
    @app.task(retries=1, retry_backoff=0)
    async def resumable(ctx: coord.Context) -> Any:
        if ctx.attempt == 1:
            await ctx.checkpoint({"cursor": 42})
            raise RuntimeError("crash after checkpoint")
        return ctx.last_checkpoint

    handle = app.enqueue(resumable)
    work_until(app, all_final(app, [handle.id]))
    assert handle.result(1) == {"cursor": 42}
    assert "task.checkpointed" in topics(app, handle.id)


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_memoized_steps_do_not_run_again_on_retry(app: coord.App, kind: str) -> None:
    effects: list[str] = []

    def effect(name: str) -> str:
        effects.append(name)
        return f"{name}-done"

    if kind == "async":

        @app.task(retries=1, retry_backoff=0)
        async def job(ctx: coord.Context) -> list[Any]:
            a = await ctx.step("fetch", effect, "fetch")
            b = await ctx.step("fetch", effect, "fetch again")  # same name twice: fetch#2
            if ctx.attempt == 1:
                raise RuntimeError("crash between steps")
            c = await ctx.step("store", effect, "store")
            return [a, b, c]

    else:

        @app.task(retries=1, retry_backoff=0)
        def job(ctx: coord.SyncContext) -> list[Any]:
            a = ctx.step("fetch", effect, "fetch")
            b = ctx.step("fetch", effect, "fetch again")
            if ctx.attempt == 1:
                raise RuntimeError("crash between steps")
            c = ctx.step("store", effect, "store")
            return [a, b, c]

    handle = app.enqueue(job)
    work_until(app, all_final(app, [handle.id]))
    assert handle.result(1) == ["fetch-done", "fetch again-done", "store-done"]
    assert effects == ["fetch", "fetch again", "store"]


def test_usage_is_recorded_on_the_task(app: coord.App) -> None:
    @app.task(retries=1, retry_backoff=0)
    async def spend(ctx: coord.Context) -> None:
        ctx.charge(tokens_in=100, tokens_out=20, usd=0.25, tool_seconds=1.5)
        if ctx.attempt == 1:
            raise RuntimeError("spent, then failed")

    handle = app.enqueue(spend)
    work_until(app, all_final(app, [handle.id]))
    usage = handle.info().usage
    assert (usage.tokens_in, usage.tokens_out, usage.usd, usage.tool_seconds) == (200, 40, 0.5, 3.0)


def test_middleware_wraps_every_call(app: coord.App) -> None:
    seen: list[tuple[str, str]] = []

    @app.middleware
    async def audit(call: coord.TaskCall, call_next: Any) -> Any:
        seen.append(("before", call.task_name))
        result = await call_next(call)
        seen.append(("after", call.task_name))
        return {"wrapped": result}

    @app.task
    async def plain(ctx: coord.Context) -> int:
        return 1

    handle = app.enqueue(plain)
    work_until(app, all_final(app, [handle.id]))
    assert handle.result(1) == {"wrapped": 1}
    assert seen == [("before", "plain"), ("after", "plain")]


def test_cancelling_a_running_task_stops_its_handler(app: coord.App) -> None:
    stopped = threading.Event()

    @app.task(timeout=None)
    def loops(ctx: coord.SyncContext) -> None:
        try:
            while True:
                ctx.heartbeat()
                time.sleep(0.05)
        except coord.LeaseLost:
            stopped.set()
            raise

    handle = app.enqueue(loops)

    async def scenario() -> None:
        worker = app.worker()

        def cancel_when_running() -> bool:
            if handle.info().state is TaskState.RUNNING:
                app.store.cancel(handle.id, "test")
                return True
            return False

        await run_until(worker, lambda: cancel_when_running() or False, timeout=10)

    asyncio.run(scenario())
    assert handle.info().state is TaskState.CANCELLED
    with pytest.raises(coord.TaskCancelled):
        handle.result(1)


def test_shutdown_releases_unfinished_tasks_without_spending_a_retry(
    app: coord.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    @app.task(retries=0, timeout=None)
    async def endless(ctx: coord.Context) -> None:
        await asyncio.sleep(60)

    handle = app.enqueue(endless)

    async def scenario() -> None:
        worker = app.worker()
        worker._grace = 0.2
        await run_until(worker, lambda: handle.info().state is TaskState.RUNNING, timeout=10)

    asyncio.run(scenario())
    info = handle.info()
    assert info.state is TaskState.PENDING and info.owner is None
    assert info.max_attempts == 2  # the interrupted attempt was given back
    assert topics(app, handle.id)[-1] == "task.released"


def test_result_waits_and_times_out(app: coord.App) -> None:
    @app.task
    async def answer(ctx: coord.Context) -> int:
        return 42

    handle = app.enqueue(answer)
    with pytest.raises(coord.WaitTimeout):
        handle.result(timeout=0.2)

    async def scenario() -> int:
        worker = app.worker()
        running = asyncio.create_task(worker.run())
        try:
            return int(await handle.result_async(timeout=10))
        finally:
            worker.stop()
            await running

    assert asyncio.run(scenario()) == 42


def test_handler_signature_mismatch_and_bad_result_are_fatal(app: coord.App) -> None:
    @app.task(retries=3)
    async def returns_object(ctx: coord.Context) -> object:
        return object()

    handle = app.enqueue(returns_object)
    work_until(app, all_final(app, [handle.id]))
    info = handle.info()
    assert info.state is TaskState.DEAD and info.attempt == 1
    assert "not JSON" in info.error["message"]


def test_burst_worker_exits_when_drained(app: coord.App) -> None:
    @app.task
    async def quick(ctx: coord.Context, n: int) -> int:
        return n

    handles = app.enqueue_many(quick, [{"n": i} for i in range(50)])
    stats = app.run_worker(burst=True)
    assert stats.succeeded == 50
    assert all(h.info().state is TaskState.SUCCEEDED for h in handles)


def test_cron_occurrences_are_enqueued_once_across_workers(app: coord.App) -> None:
    @app.task(cron="* * * * * *")  # every second (the 6th field is seconds)
    async def tick(ctx: coord.Context) -> None: ...

    async def two_workers() -> None:
        workers = [app.worker(), app.worker()]
        runs = [asyncio.create_task(w.run()) for w in workers]
        await asyncio.sleep(3.2)
        for w in workers:
            w.stop()
        await asyncio.gather(*runs)

    asyncio.run(two_workers())
    ticks = [t for t in app.store.list_tasks(_filter()) if t.name == "tick"]
    keys = [t.key for t in ticks]
    assert 3 <= len(ticks) <= 5
    assert len(keys) == len(set(keys))
    occurrences = sorted(datetime.fromisoformat(k.split(":", 2)[2]) for k in keys)
    assert all(o.tzinfo is UTC or o.utcoffset().total_seconds() == 0 for o in occurrences)
    assert len({o.second for o in occurrences}) == len(occurrences)


def _filter():
    from coord.ports.store import TaskFilter

    return TaskFilter(limit=100)
