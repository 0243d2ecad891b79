"""The App's inspection and management methods (what ``coord task``, ``coord queue``
and ``coord dlq`` do, for programs) on both backends."""

from __future__ import annotations

import pytest

import coord
from coord.domain.tasks import TaskState
from tests.helpers import all_final, work_until


def _declare(app: coord.App) -> tuple[coord.TaskDefinition, coord.TaskDefinition]:
    @app.task(queue="q1")
    async def ok(ctx: coord.Context, n: int = 0) -> int:
        return n

    @app.task(queue="q2", retries=3)
    async def doomed(ctx: coord.Context, why: str = "bad input") -> None:
        raise coord.FatalError(why)

    return ok, doomed


def test_list_tasks_filters_newest_first(app: coord.App) -> None:
    ok, doomed = _declare(app)
    ids = [app.enqueue(ok, {"n": n}).id for n in range(3)]
    dead = app.enqueue(doomed).id
    work_until(app, all_final(app, [*ids, dead]))
    assert [t.id for t in app.list_tasks()] == [dead, *reversed(ids)]
    assert [t.id for t in app.list_tasks(state=TaskState.DEAD)] == [dead]
    assert [t.id for t in app.list_tasks(queue="q1", limit=2)] == [ids[2], ids[1]]
    assert app.list_tasks(name="ok", queue="q2") == []
    with pytest.raises(coord.InvalidInput, match="limit"):
        app.list_tasks(limit=0)


def test_cancel_changes_only_unfinished_tasks(app: coord.App) -> None:
    ok, _ = _declare(app)
    later = app.enqueue(ok, delay="1h").id
    cancelled = app.cancel(later, actor="ops")
    assert cancelled.state is TaskState.CANCELLED
    [event] = [e for e in app.store.task_events(later) if e.topic == "task.cancelled"]
    assert event.actor == "ops"
    with pytest.raises(coord.Conflict, match="is already cancelled: nothing to cancel"):
        app.cancel(later)
    done = app.enqueue(ok).id
    work_until(app, all_final(app, [done]))
    with pytest.raises(coord.Conflict, match="is already succeeded") as caught:
        app.cancel(done)
    assert caught.value.data == {"task_id": done, "state": "succeeded"}
    assert app.get_task(done).state is TaskState.SUCCEEDED
    with pytest.raises(coord.NotFound):
        app.cancel("01a20000-0000-7000-8000-000000000000")


def test_queue_stats_dead_letters_and_replay(app: coord.App) -> None:
    ok, doomed = _declare(app)
    done = app.enqueue(ok).id
    dead = [app.enqueue(doomed, {"why": why}).id for why in ("bad input", "bad input", "other")]
    work_until(app, all_final(app, [done, *dead]))
    stats = {q.queue: q for q in app.queues.stats()}
    assert (stats["q1"].succeeded, stats["q2"].dead, stats["q2"].pending) == (1, 3, 0)
    groups = sorted((g.error_message, g.count) for g in app.dead_letters.groups())
    assert groups == [("bad input", 2), ("other", 1)]
    with pytest.raises(coord.InvalidInput, match="not dead"):
        app.replay_dead([dead[0], done])
    assert app.replay_dead([dead[0]], actor="ops") == [dead[0]]
    assert app.get_task(dead[0]).state is TaskState.PENDING
    assert sorted(app.replay_dead()) == sorted(dead[1:])
    assert app.dead_letters.groups() == []
