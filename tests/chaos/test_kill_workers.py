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
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.chaos import chaos_app
from tests.chaos.harness import CHAOS_GROUP, FULL, ChaosDB, Fleet, read_sink, wait_for
from tests.chaos.work_history import check_work_history, pick_victim

pytestmark = [pytest.mark.chaos, pytest.mark.slow, CHAOS_GROUP]


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
            victim, held = pick_victim(fleet, chaos_db, rng)
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
        report = check_work_history(chaos_db, expected, killed, read_sink(sink))
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
