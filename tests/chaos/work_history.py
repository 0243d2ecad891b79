"""The history of ``chaos.work`` tasks under SIGKILLs, checked from the database and
the sink: shared by the chaos tests that kill workers while they drain a queue."""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict

from tests.chaos.harness import ChaosDB, EventRow, Fleet, SinkRecord, WorkerProcess, owner_pid


def holding_workers(fleet: Fleet, db: ChaosDB) -> list[WorkerProcess]:
    """The live workers that hold running tasks right now."""
    running = {owner_pid(owner) for owner in db.running_per_owner()}
    return [w for w in fleet.alive() if w.pid in running]


def pick_victim(
    fleet: Fleet, db: ChaosDB, rng: random.Random, timeout: float = 60.0
) -> tuple[WorkerProcess, int]:
    """A live worker that holds running tasks right now (so the kill lands mid-task)."""
    deadline = time.monotonic() + timeout
    while True:
        running = {owner_pid(owner): n for owner, n in db.running_per_owner().items()}
        holding = [(w, running[w.pid]) for w in fleet.alive() if running.get(w.pid, 0) > 0]
        if holding:
            return rng.choice(holding)
        if time.monotonic() > deadline:
            raise AssertionError(f"no live worker held a running task for {timeout:g}s")
        time.sleep(0.02)


def check_work_history(
    db: ChaosDB, expected: dict[str, int], killed: set[int], sink: list[SinkRecord]
) -> dict[str, int]:
    """Check the history of ``chaos.work`` tasks after workers were SIGKILLed
    (``killed``: their pids) while they ran: nothing lost, each task succeeded once, by
    its owner, with the right result; only killed workers lost leases; every extra
    execution and every re-run effect belongs to a killed attempt. Returns the numbers
    worth reporting."""
    tasks = db.tasks()
    missing = expected.keys() - tasks.keys()
    assert not missing, f"{len(missing)} enqueued tasks lost, e.g. {sorted(missing)[:3]}"
    assert tasks.keys() == expected.keys(), "tasks nobody enqueued appeared"
    states = Counter(t.state for t in tasks.values())
    assert states == Counter({"succeeded": len(expected)}), f"not all succeeded: {states}"

    started: dict[tuple[str, int], str] = {}
    expired: dict[tuple[str, int], EventRow] = {}
    succeeded: dict[str, list[EventRow]] = defaultdict(list)
    unexpected: list[EventRow] = []
    events = db.events()
    topics = Counter(e.topic for e in events)
    for e in events:
        if e.task_id is None or e.topic in ("task.enqueued", "task.progress", "task.checkpointed"):
            continue  # events of no task: the test's own agents and keys
        key = (e.task_id, int(e.data.get("attempt", 0)))
        if e.topic == "task.started":
            assert key not in started, f"attempt {key} claimed twice"
            assert e.actor is not None
            started[key] = e.actor
        elif e.topic == "task.lease_expired":
            assert key not in expired, f"attempt {key} expired twice"
            expired[key] = e
        elif e.topic == "task.succeeded":
            succeeded[e.task_id].append(e)
        else:
            unexpected.append(e)
    assert not unexpected, f"unexpected outcomes: {unexpected[:5]}"

    # Exactly one success per task, by the attempt the row ended with, correct result.
    twice = {t: len(evs) for t, evs in succeeded.items() if len(evs) != 1}
    assert not twice, f"tasks with != 1 task.succeeded event: {list(twice.items())[:5]}"
    assert succeeded.keys() == expected.keys()
    final: dict[str, tuple[str, int]] = {}
    for task_id, [event] in succeeded.items():
        row = tasks[task_id]
        final[task_id] = key = (task_id, row.attempt)
        assert event.data["attempt"] == row.attempt, f"{task_id}: success of a stale attempt"
        assert started.get(key) == event.actor, f"{task_id}: completed by a non-owner"
        assert row.result["value"] == expected[task_id], f"{task_id}: result {row.result!r}"
        assert row.owner is None

    # Every other claim ended in a lease expiry, and only killed workers lost leases.
    successes = set(final.values())
    for key, owner in started.items():
        if key in successes:
            continue
        assert key in expired, (
            f"attempt {key} by {owner} neither succeeded nor expired "
            f"(events: {dict(topics)}):\n{db.history(key[0])}"
        )
        assert expired[key].data.get("owner") == owner, f"attempt {key}: wrong owner expired"
        assert owner_pid(owner) in killed, f"attempt {key}: live worker {owner} lost its lease"
    assert not expired.keys() & successes, "an expired attempt also succeeded"

    # The sink: every execution was a claimed attempt, run by the claiming process;
    # every success really ran to its end; every extra execution was a killed attempt.
    executions: dict[tuple[str, int], list[SinkRecord]] = defaultdict(list)
    for r in sink:
        executions[(r.task_id, r.attempt)].append(r)
    extra = extra_finished = 0
    for key, records in executions.items():
        pids = {r.pid for r in records}
        assert key in started, f"execution {key} of an attempt never claimed"
        assert pids == {owner_pid(started[key])}, f"execution {key} ran in {pids}"
        kinds = Counter(r.kind for r in records)
        assert kinds["start"] == 1 and kinds["end"] <= 1, f"execution {key}: {kinds}"
        if key in successes:
            assert kinds["end"] == 1, f"successful attempt {key} never finished its work"
            continue
        extra += 1
        extra_finished += kinds["end"]
        assert pids <= killed, f"extra execution {key} by a worker that was not killed"
        assert key in expired, f"extra execution {key} without a task.lease_expired event"
    never_ran = successes - executions.keys()
    assert not never_ran, f"successes with no execution recorded: {sorted(never_ran)[:3]}"

    # Exactly-once effects: the memoized step is recorded once per task, the result
    # carries that recording, and the effect only ran again in attempts that were
    # killed before their recording committed (never after it: those must replay).
    steps = {(t, name): attempt for t, name, attempt in db.steps()}
    assert len(steps) == len(expected) and {n for _, n in steps} == {"effect"}
    effects: dict[str, set[int]] = defaultdict(set)
    for r in sink:
        if r.kind == "effect":
            effects[r.task_id].add(r.attempt)
    replayed = repeated = 0
    for task_id, (_, final_attempt) in final.items():
        recorded = steps[(task_id, "effect")]
        ran = effects[task_id]
        trail = f"task {task_id}: effect ran in {sorted(ran)}, recorded by {recorded}"
        assert tasks[task_id].result["effect"]["attempt"] == recorded, trail
        assert recorded in ran and recorded <= final_attempt, trail
        for attempt in ran - {recorded}:
            assert attempt < recorded, f"the effect ran again after it was recorded: {trail}"
            assert (task_id, attempt) in expired, trail
            assert owner_pid(started[(task_id, attempt)]) in killed, trail
        replayed += recorded < final_attempt
        repeated += len(ran) - 1
    return {
        "effects_replayed_from_store": replayed,
        "effects_run_twice_killed_before_record": repeated,
        "claims": len(started),
        "expired_attempts": len(expired),
        "extra_executions": extra,
        "extra_executions_finished": extra_finished,
        "expired_before_handler_start": len(expired.keys() - executions.keys()),
        "max_attempt": max(row.attempt for row in tasks.values()),
    }
