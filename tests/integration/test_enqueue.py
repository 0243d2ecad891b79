"""Enqueueing: ids, events in the same transaction, idempotency keys, options, and
bad input refused with a clear error and nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import coord
from coord.domain.tasks import TaskState
from coord.errors import IdempotencyConflict, InvalidInput, UnknownTask
from coord.ports.store import TaskFilter


def _declare(app: coord.App) -> coord.TaskDefinition:
    @app.task(
        queue="q1", priority="high", retries=3, concurrency_key="user:{user}", concurrency_limit=2
    )
    async def summarize(ctx: coord.Context, user: str, text: str = "") -> dict:
        return {"user": user}

    return summarize


def test_enqueue_records_task_and_event(app: coord.App) -> None:
    summarize = _declare(app)
    handle = app.enqueue(summarize, {"user": "ada", "text": "hi"})
    info = handle.info()
    assert info.state is TaskState.PENDING
    assert (info.name, info.queue, info.priority) == ("summarize", "q1", "high")
    assert info.payload == {"user": "ada", "text": "hi"}
    assert info.max_attempts == 4
    assert info.concurrency_key == "user:ada"
    events = app.store.task_events(handle.id)
    assert [e.topic for e in events] == ["task.enqueued"]


def test_ids_are_time_ordered_uuid7(app: coord.App) -> None:
    summarize = _declare(app)
    handles = app.enqueue_many(summarize, [{"user": str(i)} for i in range(200)])
    ids = [h.id for h in handles]
    assert ids == sorted(ids)
    assert len(set(ids)) == 200
    assert all(i[14] == "7" for i in ids)  # the UUID version nibble


def test_same_key_same_payload_returns_existing_task(app: coord.App) -> None:
    summarize = _declare(app)
    first = app.enqueue(summarize, {"user": "ada"}, key="k1")
    again = app.enqueue(summarize, {"user": "ada"}, key="k1")
    assert again.id == first.id
    assert (first.created, again.created) == (True, False)
    assert len(app.store.task_events(first.id)) == 1  # no second enqueued event


def test_same_key_other_payload_is_a_conflict_and_batch_writes_nothing(app: coord.App) -> None:
    summarize = _declare(app)
    first = app.enqueue(summarize, {"user": "ada"}, key="k1")
    with pytest.raises(IdempotencyConflict, match="k1") as caught:
        app.enqueue_many(summarize, [{"user": "new"}, {"user": "bob"}], keys=["fresh", "k1"])
    assert caught.value.data["task_id"] == first.id
    assert len(app.store.list_tasks(TaskFilter(limit=1000))) == 1  # "fresh" was rolled back


def test_duplicate_keys_within_one_batch(app: coord.App) -> None:
    summarize = _declare(app)
    a, b = app.enqueue_many(summarize, [{"user": "x"}, {"user": "x"}], keys=["same", "same"])
    assert a.id == b.id
    assert (a.created, b.created) == (True, False)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"text": "no user"}, "missing \\['user'\\]"),
        ({"user": "a", "oops": 1}, "unexpected \\['oops'\\]"),
        ({"user": object()}, "not JSON"),
        ({"user": "x" * 2_000_000}, "over the limit"),
    ],
)
def test_bad_payloads_are_refused_and_nothing_is_written(
    app: coord.App, payload: dict, message: str
) -> None:
    summarize = _declare(app)
    with pytest.raises(InvalidInput, match=message):
        app.enqueue_many(summarize, [{"user": "ok"}, payload])
    assert app.store.list_tasks(TaskFilter(limit=1000)) == []


def test_payload_must_be_an_object(app: coord.App) -> None:
    summarize = _declare(app)
    with pytest.raises(InvalidInput, match="JSON object"):
        app.enqueue(summarize, ["not", "a", "dict"])


def test_unknown_task_name_is_refused(app: coord.App) -> None:
    with pytest.raises(UnknownTask, match="nope"):
        app.enqueue("nope", {})


def test_enqueue_by_name_uses_the_registered_policy(app: coord.App, database_url: str) -> None:
    _declare(app)
    assert app.store.get_policy("summarize") is not None  # opening registers the policies
    other = coord.App(database_url, settings=app.settings)  # a process without the code
    handle = other.enqueue("summarize", {"user": "eve"})
    info = other.get_task(handle.id)
    assert (info.queue, info.priority, info.max_attempts) == ("q1", "high", 4)
    assert info.concurrency_key == "user:eve"
    other.close()


def test_options_override_the_policy(app: coord.App) -> None:
    summarize = _declare(app)
    later = datetime.now(UTC) + timedelta(hours=1)
    a = app.enqueue(summarize, {"user": "a"}, priority="critical", queue="other").info()
    b = app.enqueue(summarize, {"user": "b"}, delay="10m").info()
    c = app.enqueue(summarize, {"user": "c"}, run_at=later).info()
    assert (a.priority, a.queue) == ("critical", "other")
    assert b.run_at > datetime.now(UTC) + timedelta(minutes=9)
    assert abs((c.run_at - later).total_seconds()) < 0.01


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"priority": "urgent"}, "invalid priority"),
        ({"delay": "soon"}, "invalid duration"),
        ({"delay": -1}, "non-negative"),
        ({"run_at": datetime(2030, 1, 1)}, "timezone-aware"),
    ],
)
def test_bad_options_are_refused(app: coord.App, options: dict, message: str) -> None:
    summarize = _declare(app)
    with pytest.raises(InvalidInput, match=message):
        app.enqueue(summarize, {"user": "a"}, **options)


def test_async_enqueue(app: coord.App) -> None:
    import asyncio

    summarize = _declare(app)

    async def go() -> list[str]:
        one = await app.enqueue_async(summarize, {"user": "a"})
        many = await app.enqueue_many_async(summarize, [{"user": "b"}, {"user": "c"}])
        return [one.id, *(h.id for h in many)]

    ids = asyncio.run(go())
    assert len(set(ids)) == 3
