"""PostgreSQL sessions killed under the workers' feet (``pg_terminate_backend``).

Two workers drain a queue while the test repeatedly terminates every session of the
database: pooled connections (idle ones, and ones in the middle of a claim, a renewal
or a batched completion) and the LISTEN connection. Proves that workers reconnect and
carry on by themselves: every task succeeds exactly once, none is left running, the
workers never die, they still react to new work after the last termination, and they
exit cleanly (code 0) on SIGTERM.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from coord.storage.postgres.store import PostgresStore
from tests.chaos import chaos_app
from tests.chaos.harness import (
    CHAOS_GROUP,
    FULL,
    ChaosDB,
    Fleet,
    WorkerProcess,
    read_sink,
    terminate_backends,
    wait_for,
)

pytestmark = [pytest.mark.chaos, pytest.mark.slow, CHAOS_GROUP]

TASKS = 10_000 if FULL else 2_000
MID_RUN_TERMINATIONS = 20 if FULL else 6
MS = (5.0, 40.0)


def _enqueue(db: ChaosDB, first: int, count: int, rng: random.Random) -> dict[str, int]:
    app = chaos_app.build_app(db.url)
    expected: dict[str, int] = {}
    try:
        for start in range(first, first + count, 2_000):
            payloads = [
                {"n": n, "ms": round(rng.uniform(*MS), 2), "step": n % 2 == 0}
                for n in range(start, min(start + 2_000, first + count))
            ]
            for handle, payload in zip(
                app.enqueue_many(chaos_app.WORK, payloads), payloads, strict=True
            ):
                expected[handle.id] = chaos_app.expected_result(int(payload["n"]))
    finally:
        app.close()
    return expected


def _assert_alive(workers: list[WorkerProcess], when: str) -> None:
    dead = {w.name: w.proc.returncode for w in workers if not w.alive()}
    assert not dead, f"workers died {when}: {dead}"


@pytest.mark.timeout(1800 if FULL else 300)
def test_workers_survive_terminated_postgres_sessions(
    chaos_pg_db: ChaosDB, postgres_server: str, tmp_path: Path
) -> None:
    db = chaos_pg_db
    rng = random.Random()
    began = time.monotonic()
    sink = tmp_path / "sink.log"
    terminations: list[tuple[str, int, int]] = []  # (phase, sessions killed, tasks done)

    def terminate(phase: str) -> None:
        killed = terminate_backends(postgres_server, db.name)
        terminations.append((phase, killed, db.count_in("succeeded")))

    with Fleet(tmp_path, db, sink) as fleet:
        workers = [fleet.start(concurrency=8) for _ in range(2)]
        for worker in workers:
            fleet.wait_started(worker)
        time.sleep(1.0)

        # Idle: every pooled connection and the LISTEN connection die while unused.
        terminate("idle")
        time.sleep(1.5)  # > the pool's idle check (1 s): found by its ping
        terminate("idle")
        time.sleep(0.3)  # < the idle check: found by the next query that uses it
        _assert_alive(workers, "after idle terminations")
        expected = _enqueue(db, 0, TASKS, rng)
        drain_began = time.monotonic()

        # Mid-run: spread over the drain, jittered, sometimes twice in a row.
        for k in range(MID_RUN_TERMINATIONS):
            mark = int(TASKS * (0.08 + 0.8 * k / MID_RUN_TERMINATIONS + rng.uniform(0, 0.05)))
            wait_for(
                lambda m=mark: db.count_in("succeeded") >= m,
                timeout=120,
                what=f"{mark} tasks to succeed",
                interval=0.05,
            )
            time.sleep(rng.uniform(0.0, 0.1))
            terminate("mid-run")
            if rng.random() < 0.3:
                time.sleep(rng.uniform(0.01, 0.1))
                terminate("mid-run")
        wait_for(db.all_final, timeout=300 if FULL else 120, what="every task to be final")
        drained_in = time.monotonic() - drain_began
        _assert_alive(workers, "while draining")

        # Idle again, then new work: the workers must have reconnected on their own
        # (including LISTEN: the new tasks are picked up without a long poll gap).
        terminate("idle")
        time.sleep(0.5)
        expected.update(_enqueue(db, TASKS, 50, rng))
        late_in = wait_for(
            db.all_final, timeout=60, what="the tasks enqueued after the last termination"
        )
        _assert_alive(workers, "at the end")

        stopping = time.monotonic()
        codes = {w.name: w.terminate(timeout=30) for w in workers}
        stopped_in = time.monotonic() - stopping
        assert codes == {w.name: 0 for w in workers}, f"exit codes after SIGTERM: {codes}"
        stats = {w.name: w.stats() for w in workers}
        assert all(s is not None for s in stats.values()), f"missing final stats: {stats}"

        # The history: all there, each succeeded once with the right result.
        tasks = db.tasks()
        assert tasks.keys() == expected.keys(), "tasks lost or invented"
        states = Counter(t.state for t in tasks.values())
        assert states == Counter({"succeeded": len(expected)}), f"not all succeeded: {states}"
        wrong = [t.id for t in tasks.values() if t.result["value"] != expected[t.id]]
        assert not wrong, f"wrong results: {wrong[:5]}"
        successes = Counter(e.task_id for e in db.events("task.succeeded"))
        twice = {t: n for t, n in successes.items() if n != 1}
        assert not twice and successes.keys() == expected.keys(), f"successes != 1: {twice}"
        # A session killed under a renewal may cost a lease, one killed under a
        # handler's own store call (the memoized step) fails that attempt, which is
        # retried: at-least-once allows both. Every extra execution must be one of them.
        expired = {(e.task_id, e.data["attempt"]) for e in db.events("task.lease_expired")}
        retried: dict[tuple[str, int], str] = {
            (e.task_id, e.data["attempt"]): e.data["error"]["type"]
            for e in db.events("task.retrying")
        }
        not_store = {k: v for k, v in retried.items() if not v.startswith("Store")}
        assert not not_store, f"attempts failed by something else than the store: {not_store}"
        executions: dict[tuple[str, int], set[str]] = defaultdict(set)
        for r in read_sink(sink):
            executions[(r.task_id, r.attempt)].add(r.kind)
        final = {(t.id, t.attempt) for t in tasks.values()}
        extra = executions.keys() - final
        assert final <= executions.keys(), "a success without an execution"
        unexplained = extra - expired - retried.keys()
        assert not unexplained, f"extra executions not explained: {sorted(unexplained)[:5]}"
        # The memoized step: recorded once, and never run again once recorded.
        steps = {t: attempt for t, _, attempt in db.steps()}
        effects: dict[str, set[int]] = defaultdict(set)
        for (task_id, attempt), kinds in executions.items():
            if "effect" in kinds:
                effects[task_id].add(attempt)
        for task_id, row in tasks.items():
            ran = effects[task_id]
            if row.result["effect"] is None:
                assert not ran and task_id not in steps
                continue
            recorded = steps[task_id]
            assert row.result["effect"]["attempt"] == recorded and recorded in ran, task_id
            assert all(a <= recorded for a in ran), f"{task_id}: effect ran after its record"

        mid_run = [t for t in terminations if t[0] == "mid-run"]
        assert len(terminations) >= 5
        assert sum(0 < done < TASKS and killed > 0 for _, killed, done in mid_run) >= 3, (
            f"too few terminations landed while the queue was draining: {terminations}"
        )
        store_errors = {name: s["store_errors"] for name, s in stats.items() if s}
        refused = {name: s["completions_refused"] for name, s in stats.items() if s}
        print(
            f"\n[chaos pg_terminate] {time.monotonic() - began:.1f}s tasks={len(expected)} "
            f"(drained in {drained_in:.1f}s, the late 50 in {late_in:.1f}s, "
            f"SIGTERM to exit {stopped_in:.1f}s) "
            f"terminations={len(terminations)} (sessions killed "
            f"{sum(t[1] for t in terminations)}) {terminations} store_errors={store_errors} "
            f"completions_refused={refused} expired_attempts={len(expired)} "
            f"attempts_failed_by_store_errors={len(retried)} "
            f"extra_executions={len(extra)}"
        )


@pytest.mark.timeout(180)
def test_store_recovers_at_once_when_every_pooled_session_was_terminated(
    chaos_pg_db: ChaosDB, postgres_server: str
) -> None:
    """After a PostgreSQL restart or failover every pooled connection is dead; the
    pool must replace them without making the caller wait (let alone fail)."""
    # 8 dead connections: the backoff (whose first delay has +-10% jitter) always
    # outlasts the store's 30 s pool timeout, so today the call fails, deterministically.
    store = PostgresStore(chaos_pg_db.url, min_size=8, max_size=10)
    try:
        time.sleep(1.5)  # idle for longer than the store's 1 s idle check
        assert terminate_backends(postgres_server, chaos_pg_db.name) >= 8
        store.seconds_until_due(["default"])
    finally:
        store.close()
