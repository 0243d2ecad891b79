"""Claiming and fencing at the store: order, leases, per-key concurrency, rate limits,
expired-lease recovery, and writes refused once the lease is lost."""

from __future__ import annotations

import threading
import time
from collections import Counter

import coord
from coord.domain import events
from coord.domain.tasks import Outcome, Renewal, TaskState
from coord.ports.store import Store, TaskFilter


def _store(app: coord.App) -> Store:
    return app.store


def _noop(app: coord.App, **policy: object) -> coord.TaskDefinition:
    @app.task(**policy)
    async def noop(ctx: coord.Context, n: int = 0, user: str = "") -> int:
        return n

    return noop


def _succeed(store: Store, owner: str, task_id: str, attempt: int) -> set[str]:
    outcome = Outcome(task_id, attempt, TaskState.SUCCEEDED, events.TASK_SUCCEEDED, result_json="1")
    return store.complete(owner, [outcome])


def test_claim_order_is_priority_then_run_at_then_id(app: coord.App) -> None:
    noop = _noop(app)
    low = app.enqueue(noop, {"n": 1}, priority="low").id
    normal_1 = app.enqueue(noop, {"n": 2}).id
    normal_2 = app.enqueue(noop, {"n": 3}).id
    critical = app.enqueue(noop, {"n": 4}, priority="critical").id
    high = app.enqueue(noop, {"n": 5}, priority="high").id
    claimed = []
    while batch := _store(app).claim("w", ["default"], 1, 30):
        claimed.append(batch[0].id)
    assert claimed == [critical, high, normal_1, normal_2, low]


def test_delayed_tasks_are_claimed_only_when_due(app: coord.App) -> None:
    noop = _noop(app)
    app.enqueue(noop, {"n": 1}, delay=0.4)
    store = _store(app)
    assert store.claim("w", ["default"], 10, 30) == []
    due_in = store.seconds_until_due(["default"])
    assert due_in is not None and 0 < due_in <= 0.4
    time.sleep(0.45)
    assert len(store.claim("w", ["default"], 10, 30)) == 1


def test_claims_only_the_named_queues(app: coord.App) -> None:
    noop = _noop(app)
    app.enqueue(noop, {"n": 1}, queue="a")
    app.enqueue(noop, {"n": 2}, queue="b")
    app.enqueue(noop, {"n": 3}, queue="c")
    claimed = _store(app).claim("w", ["a", "c"], 10, 30)
    assert sorted(t.queue for t in claimed) == ["a", "c"]


def test_claim_records_lease_and_started_event(app: coord.App) -> None:
    noop = _noop(app)
    task_id = app.enqueue(noop, {"n": 7}).id
    [task] = _store(app).claim("worker-1", ["default"], 5, 30)
    assert (task.id, task.attempt, task.payload) == (task_id, 1, {"n": 7})
    info = app.get_task(task_id)
    assert info.state is TaskState.RUNNING and info.owner == "worker-1"
    assert info.lease_expires_at is not None
    topics = [(e.topic, e.actor) for e in _store(app).task_events(task_id)]
    assert topics == [("task.enqueued", None), ("task.started", "worker-1")]


def test_concurrent_claimers_never_share_a_task(app: coord.App) -> None:
    noop = _noop(app)
    app.enqueue_many(noop, [{"n": i} for i in range(300)])
    store = _store(app)
    seen: list[str] = []
    lock = threading.Lock()

    def claim_all(owner: str) -> None:
        while batch := store.claim(owner, ["default"], 7, 30):
            with lock:
                seen.extend(t.id for t in batch)

    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 300 == len(set(seen))


def test_fencing_refuses_a_stale_attempt_or_owner(app: coord.App) -> None:
    noop = _noop(app)
    task_id = app.enqueue(noop).id
    store = _store(app)
    [task] = store.claim("w1", ["default"], 1, 30)
    assert store.renew("w2", [Renewal(task_id, task.attempt)], 30) == set()
    assert store.renew("w1", [Renewal(task_id, task.attempt + 1)], 30) == set()
    assert not store.save_checkpoint("w2", task_id, task.attempt, "{}")
    assert not store.record_step("w2", task_id, task.attempt, "s", "1")
    assert _succeed(store, "w2", task_id, task.attempt) == set()
    assert app.get_task(task_id).state is TaskState.RUNNING
    assert store.renew("w1", [Renewal(task_id, task.attempt, beat=True, progress=0.5)], 30) == {
        task_id
    }
    assert _succeed(store, "w1", task_id, task.attempt) == {task_id}
    assert _succeed(store, "w1", task_id, task.attempt) == set()  # only once
    assert app.get_task(task_id).state is TaskState.SUCCEEDED


def test_expired_lease_is_recovered_and_its_writes_refused(app: coord.App) -> None:
    noop = _noop(app, retries=1)
    task_id = app.enqueue(noop).id
    store = _store(app)
    [first] = store.claim("dead-worker", ["default"], 1, 0.2)
    time.sleep(0.3)
    assert store.renew("dead-worker", [Renewal(task_id, 1)], 30) == set()  # expired: refused
    assert store.recover_expired() == 1
    info = app.get_task(task_id)
    assert info.state is TaskState.PENDING and info.owner is None
    assert info.error is not None and info.error["type"] == "LeaseExpired"
    [second] = store.claim("w2", ["default"], 1, 0.2)
    assert second.attempt == 2
    assert _succeed(store, "dead-worker", task_id, first.attempt) == set()
    time.sleep(0.3)
    assert store.recover_expired() == 1  # out of attempts now
    assert app.get_task(task_id).state is TaskState.DEAD
    topics = [e.topic for e in store.task_events(task_id)]
    assert topics.count("task.lease_expired") == 2 and topics[-1] == "task.dead"


def test_a_recovered_task_keeps_its_place_in_claim_order(app: coord.App) -> None:
    """Regression (issue 13, item 2): recovery set run_at to now, so an orphaned task
    waited behind the whole backlog enqueued after it (17-27 s with 10,000 queued)."""
    noop = _noop(app, retries=2)
    orphan = app.enqueue(noop, {"n": 0}).id
    store = _store(app)
    [claimed] = store.claim("dead-worker", ["default"], 1, 0.2)
    assert claimed.id == orphan
    backlog = {h.id for h in app.enqueue_many(noop, [{"n": n} for n in range(1, 51)])}
    urgent = app.enqueue(noop, {"n": 99}, priority="high").id
    time.sleep(0.3)
    assert store.recover_expired() == 1
    # Priority still comes first; then the orphan, due since before the backlog.
    next_two = {t.id: t.attempt for t in store.claim("w2", ["default"], 2, 30)}
    assert next_two == {urgent: 1, orphan: 2}
    assert {t.id for t in store.claim("w2", ["default"], 100, 30)} == backlog


def test_concurrency_limit_per_key_is_never_exceeded(app: coord.App) -> None:
    noop = _noop(app, concurrency_key="user:{user}", concurrency_limit=2)
    app.enqueue_many(noop, [{"user": u} for u in "aaaaabbbcc"])
    store = _store(app)
    owners = {t.id: "w1" for t in store.claim("w1", ["default"], 100, 30)}
    owners |= {t.id: "w2" for t in store.claim("w2", ["default"], 100, 30)}
    users = {t.id: t.payload["user"] for t in store.list_tasks(TaskFilter(limit=100))}
    assert Counter(users[i] for i in owners) == {"a": 2, "b": 2, "c": 2}
    assert store.claim("w3", ["default"], 100, 30) == []  # every key is at its limit
    done = next(i for i in owners if users[i] == "a")
    assert _succeed(store, owners[done], done, 1) == {done}
    more = store.claim("w3", ["default"], 100, 30)
    assert [t.payload["user"] for t in more] == ["a"]


def test_concurrency_limit_holds_under_racing_claimers(app: coord.App) -> None:
    noop = _noop(app, concurrency_key="k", concurrency_limit=3)
    app.enqueue_many(noop, [{"n": i} for i in range(60)])
    store = _store(app)
    got: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def claim(owner: str) -> None:
        barrier.wait()
        for _ in range(5):
            batch = store.claim(owner, ["default"], 10, 30)
            with lock:
                got.extend(t.id for t in batch)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 3


def test_rate_limit_admits_only_the_bucket(app: coord.App) -> None:
    noop = _noop(app, rate_limit="5/s")
    app.enqueue_many(noop, [{"n": i} for i in range(20)])
    store = _store(app)
    first = store.claim("w", ["default"], 100, 30)
    assert len(first) == 5
    assert store.claim("w", ["default"], 100, 30) == []
    time.sleep(0.45)  # ~2 tokens refill at 5/s
    assert 1 <= len(store.claim("w", ["default"], 100, 30)) <= 3


def test_limited_tasks_do_not_block_others(app: coord.App) -> None:
    limited = _noop(app, concurrency_key="one", concurrency_limit=1)

    @app.task(name="free")
    async def free(ctx: coord.Context) -> None: ...

    app.enqueue_many(limited, [{"n": i} for i in range(5)], priority="critical")
    app.enqueue_many(free, [{} for _ in range(3)], priority="low")
    claimed = _store(app).claim("w", ["default"], 10, 30)
    assert Counter(t.name for t in claimed) == {"noop": 1, "free": 3}


def test_cancel_pending_and_running(app: coord.App) -> None:
    noop = _noop(app)
    pending = app.enqueue(noop, {"n": 1}).id
    running = app.enqueue(noop, {"n": 2}).id
    store = _store(app)
    [claimed] = [t for t in store.claim("w", ["default"], 10, 30) if t.id == running]
    assert store.cancel(pending, "me") and store.cancel(running, "me")
    assert not store.cancel(pending, "me"), "a second cancel changes nothing"
    for task_id in (pending, running):
        assert store.get_task(task_id).state is TaskState.CANCELLED
    assert store.renew("w", [Renewal(running, claimed.attempt)], 30) == set()  # worker learns
    assert _succeed(store, "w", running, claimed.attempt) == set()
    assert app.get_task(running).state is TaskState.CANCELLED
    assert [e.topic for e in store.task_events(pending)][-1] == "task.cancelled"


def test_dead_letters_group_and_replay(app: coord.App) -> None:
    noop = _noop(app, retries=2)
    ids = [h.id for h in app.enqueue_many(noop, [{"n": i} for i in range(3)])]
    store = _store(app)
    for task in store.claim("w", ["default"], 10, 30):
        error = '{"type": "ValueError", "message": "bad input"}'
        outcome = Outcome(task.id, task.attempt, TaskState.DEAD, events.TASK_DEAD, error_json=error)
        store.complete("w", [outcome])
    [group] = store.dead_letter_groups()
    assert (group.error_type, group.error_message, group.count) == ("ValueError", "bad input", 3)
    assert group.sample_task_id in ids and group.task_names == ["noop"]
    assert store.retry_tasks([ids[0]], [TaskState.DEAD], None, "me") == [ids[0]]
    info = app.get_task(ids[0])
    assert info.state is TaskState.PENDING and info.max_attempts == info.attempt + 3
    assert sorted(store.retry_tasks(None, [TaskState.DEAD], None, "me")) == sorted(ids[1:])
    assert store.dead_letter_groups() == []


def test_queue_stats(app: coord.App) -> None:
    noop = _noop(app)
    app.enqueue_many(noop, [{"n": i} for i in range(3)], queue="a")
    app.enqueue(noop, {"n": 9}, queue="b", delay=600)
    _store(app).claim("w", ["a"], 1, 30)
    stats = {s.queue: s for s in _store(app).queue_stats()}
    assert (stats["a"].pending, stats["a"].running) == (2, 1)
    assert stats["a"].oldest_pending_age_s is not None
    assert stats["b"].pending == 1 and stats["b"].oldest_pending_age_s is None
