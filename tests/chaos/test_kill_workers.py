"""SIGKILL chaos: worker processes are killed at random while they drain a queue.

Proves, on both backends, that a worker dying at any instant (mid-handler, mid-claim,
mid-commit) loses no task, leaves none stuck, and never makes a task succeed twice:
every execution beyond the one that succeeded belongs to an attempt of a killed process
whose lease then expired (``task.lease_expired``) - at-least-once execution, exactly
one recorded effect.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.chaos import chaos_app
from tests.chaos.harness import (
    FULL,
    ChaosDB,
    EventRow,
    Fleet,
    SinkRecord,
    WorkerProcess,
    owner_pid,
    read_sink,
    wait_for,
)

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


@dataclass(frozen=True)
class Plan:
    tasks: int
    kills: int
    workers: int  # alive at any time (each killed one is replaced at once)
    concurrency: int
    ms: tuple[float, float]  # handler sleep range


SHORT = Plan(tasks=2_000, kills=10, workers=2, concurrency=8, ms=(5.0, 40.0))
LONG = Plan(tasks=20_000, kills=50, workers=3, concurrency=8, ms=(2.0, 30.0))


@dataclass(frozen=True)
class Kill:
    pid: int
    running: int  # tasks it held (state running) when it was picked
    done: int  # tasks succeeded overall at that moment


def _enqueue(db: ChaosDB, plan: Plan, rng: random.Random) -> dict[str, int]:
    """Enqueue the tasks; return the expected result of each id."""
    app = chaos_app.build_app(db.url)
    expected: dict[str, int] = {}
    try:
        for start in range(0, plan.tasks, 2_000):
            payloads = [
                {"n": n, "ms": round(rng.uniform(*plan.ms), 2), "step": True}
                for n in range(start, min(start + 2_000, plan.tasks))
            ]
            handles = app.enqueue_many(chaos_app.WORK, payloads)
            for handle, payload in zip(handles, payloads, strict=True):
                expected[handle.id] = chaos_app.expected_result(int(payload["n"]))
    finally:
        app.close()
    assert len(expected) == plan.tasks
    return expected


def _thresholds(plan: Plan, rng: random.Random) -> list[int]:
    """When to kill: after 5%..85% of the tasks succeeded, spread evenly, jittered."""
    span = 0.80 / max(1, plan.kills - 1)
    marks = [0.05 + k * span + rng.uniform(0, span / 2) for k in range(plan.kills)]
    return sorted(int(plan.tasks * min(m, 0.9)) for m in marks)


def _pick_victim(
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


def _check_history(
    db: ChaosDB, expected: dict[str, int], killed: set[int], sink: list[SinkRecord]
) -> dict[str, int]:
    """The assertions of this test; returns the numbers worth reporting."""
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
        if e.topic in ("task.enqueued", "task.progress", "task.checkpointed"):
            continue
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


@pytest.mark.timeout(3600 if FULL else 300)
def test_sigkilled_workers_lose_nothing_and_complete_nothing_twice(
    chaos_db: ChaosDB, tmp_path: Path
) -> None:
    plan = LONG if FULL else SHORT
    seed = int(os.environ.get("COORD_CHAOS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    began = time.monotonic()
    expected = _enqueue(chaos_db, plan, rng)
    sink = tmp_path / "sink.log"
    kills: list[Kill] = []
    with Fleet(tmp_path, chaos_db, sink) as fleet:
        fleet.notes.append(f"seed={seed} plan={plan}")
        for _ in range(plan.workers):
            fleet.start(concurrency=plan.concurrency)
        for threshold in _thresholds(plan, rng):
            wait_for(
                lambda t=threshold: chaos_db.count_in("succeeded") >= t,
                timeout=120,
                what=f"{threshold} tasks to succeed",
                interval=0.05,
            )
            time.sleep(rng.uniform(0.0, 0.25))  # land anywhere in a handler's sleep
            victim, held = _pick_victim(fleet, chaos_db, rng)
            done = chaos_db.count_in("succeeded")
            victim.kill()
            kills.append(Kill(victim.pid, held, done))
            fleet.start(concurrency=plan.concurrency)
        fleet.notes.append(f"kills={kills}")
        assert len(kills) == plan.kills
        assert all(k.done < plan.tasks for k in kills), "a kill came after the queue drained"

        wait_for(chaos_db.all_final, timeout=600 if FULL else 120, what="every task to be final")
        survivors = fleet.alive()
        assert len(survivors) == plan.workers, "a worker died without being killed"
        codes = {w.name: w.terminate() for w in survivors}
        assert set(codes.values()) == {0}, f"exit codes after SIGTERM: {codes}"
        stats = [w.stats() for w in survivors]
        assert all(s is not None for s in stats), "a worker did not log its final stats"

        killed = {k.pid for k in kills}
        report = _check_history(chaos_db, expected, killed, read_sink(sink))
        report.update(
            tasks=plan.tasks,
            kills=len(kills),
            running_at_kills=sum(k.running for k in kills),
            workers_started=len(fleet.workers),
            survivor_completions_refused=sum(s["completions_refused"] for s in stats if s),
            survivor_recovered=sum(s["recovered"] for s in stats if s),
        )
        print(
            f"\n[chaos sigkill {chaos_db.dialect}] seed={seed} "
            f"{time.monotonic() - began:.1f}s {report}"
        )
        assert report["expired_attempts"] > 0, "no kill interrupted a running task"
