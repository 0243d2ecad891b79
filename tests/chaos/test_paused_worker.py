"""SIGSTOP past the lease: a frozen worker wakes up to find its tasks taken over.

Worker A runs heartbeating tasks; it is frozen (SIGSTOP) for longer than its lease while
worker B runs; B recovers A's expired leases and runs the tasks again; then A is
continued (SIGCONT) and carries on as if nothing happened. Proves, on both backends,
that fencing holds: once A's lease expired, not one of A's heartbeats, checkpoints,
steps or completions reaches the store (no event with A's worker id after the
``task.lease_expired`` of its attempt, no step recorded by A), A's handlers are told
(``LeaseLost``), and each task succeeds exactly once, by B.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.chaos import chaos_app
from tests.chaos.harness import (
    CHAOS_GROUP,
    LEASE,
    ChaosDB,
    EventRow,
    Fleet,
    SinkRecord,
    owner_pid,
    paused,
    read_sink,
    wait_for,
)

pytestmark = [pytest.mark.chaos, pytest.mark.slow, CHAOS_GROUP]

MODES = ["flag"] * 3 + ["lost"] * 3  # step and return on waking up / heartbeat until fenced
LOST_KINDS = ("beat-lost", "checkpoint-lost", "step-lost")
STOP_FOR = 5.0  # seconds A stays frozen, at least (the lease is 2 s)
RETRY_SECONDS = 3.0  # B's attempts still run when A wakes up: the two race for real


def _a_holds_everything(db: ChaosDB, ids: list[str], a_owner: str) -> bool:
    """A claimed every task and the store accepted heartbeats (progress) from A."""
    started = {e.task_id for e in db.events("task.started") if e.actor == a_owner}
    beating = {e.task_id for e in db.events("task.progress") if e.actor == a_owner}
    return started >= set(ids) and beating >= set(ids)


def _b_took_over(db: ChaosDB, ids: list[str], a_owner: str, b_owner: str) -> bool:
    """Every attempt of A expired and B claimed attempt 2 of every task."""
    events = db.events("task.lease_expired", "task.started")
    expired = {
        e.task_id
        for e in events
        if e.topic == "task.lease_expired" and e.data.get("owner") == a_owner
    }
    retaken = {
        e.task_id
        for e in events
        if e.topic == "task.started" and e.actor == b_owner and e.data.get("attempt") == 2
    }
    return expired >= set(ids) and retaken >= set(ids)


def _check_store(
    db: ChaosDB, ids: list[str], a_owner: str, b_owner: str, b_pid: int, resumed_at: float
) -> dict[str, int]:
    events = db.events()
    by_task: dict[str, list[EventRow]] = {t: [] for t in ids}
    for e in events:
        assert e.task_id in by_task, f"event of an unknown task: {e}"
        by_task[e.task_id].append(e)
    a_late = [e for e in events if e.actor == a_owner and e.created_at >= resumed_at]
    assert not a_late, f"events written by A after it was continued: {a_late}"
    tasks = db.tasks()
    a_topics: Counter[str] = Counter()
    for task_id, history in by_task.items():
        trail = f"task {task_id}:\n{db.history(task_id)}"
        [expiry] = [e for e in history if e.topic == "task.lease_expired"]
        assert expiry.data["attempt"] == 1 and expiry.data["owner"] == a_owner, trail
        assert expiry.actor == "coord:recovery", trail
        mine = [e for e in history if e.actor == a_owner]
        after = [e for e in mine if e.id > expiry.id or e.created_at > expiry.created_at]
        assert not after, f"A wrote after its lease expired: {after}\n{trail}"
        a_topics.update(e.topic for e in mine)
        assert {e.topic for e in mine} <= {"task.started", "task.progress", "task.checkpointed"}
        assert {"task.started", "task.progress"} <= {e.topic for e in mine}, trail
        [success] = [e for e in history if e.topic == "task.succeeded"]
        assert success.actor == b_owner and success.data["attempt"] == 2, trail
        assert not [e for e in history if e.topic in ("task.dead", "task.retrying")], trail
        row = tasks[task_id]
        assert (row.state, row.attempt, row.owner) == ("succeeded", 2, None), trail
        assert row.result["attempt"] == 2 and row.result["pid"] == b_pid, trail
        # The memoized step ran once, in B's attempt: A's late step was refused.
        assert row.result["effect"] == {"attempt": 2, "pid": b_pid}, trail
    steps = Counter((task_id, name, attempt) for task_id, name, attempt in db.steps())
    assert steps == Counter((t, "effect", 2) for t in ids), f"recorded steps: {steps}"
    return {
        "a_progress_events_before_expiry": a_topics["task.progress"],
        "a_checkpoints_before_expiry": a_topics["task.checkpointed"],
    }


def _check_sink(
    sink: list[SinkRecord], modes: dict[str, str], a_pid: int, resumed_at: float
) -> dict[str, int]:
    """What A's handlers saw after waking up: every write they tried was refused."""
    woke = [r for r in sink if r.pid == a_pid and r.at >= resumed_at]
    assert {r.attempt for r in woke} <= {1}
    kinds = Counter(r.kind for r in woke)
    assert kinds["safety"] == 0, "a first attempt of A was never fenced out"
    accepted = {k: kinds[k] for k in ("checkpoint-ok", "step-ok", "end") if kinds[k]}
    assert not accepted, f"the store accepted writes of A after it woke up: {accepted}"
    for task_id, mode in modes.items():
        seen = {r.kind for r in woke if r.task_id == task_id}
        assert seen & {"beat-lost", "checkpoint-lost", "step-lost"}, (
            f"A's handler of {task_id} ({mode}) never saw LeaseLost after waking: {seen}"
        )
    return {
        "a_heartbeat_calls_after_wake": kinds["beat-ok"] + kinds["beat-lost"],
        **{f"a_{kind.replace('-', '_')}_after_wake": kinds[kind] for kind in LOST_KINDS},
    }


@pytest.mark.timeout(240)
def test_worker_paused_past_its_lease_is_fenced_out(chaos_db: ChaosDB, tmp_path: Path) -> None:
    began = time.monotonic()
    sink_path = tmp_path / "sink.log"
    release = tmp_path / "release"
    app = chaos_app.build_app(chaos_db.url)
    try:
        handles = app.enqueue_many(
            chaos_app.BEAT, [{"mode": m, "retry_seconds": RETRY_SECONDS} for m in MODES]
        )
    finally:
        app.close()
    ids = [h.id for h in handles]
    modes = dict(zip(ids, MODES, strict=True))

    with Fleet(tmp_path, chaos_db, sink_path, CHAOS_RELEASE=str(release)) as fleet:
        a = fleet.start("A", concurrency=len(ids))
        a_owner = fleet.wait_started(a)
        assert owner_pid(a_owner) == a.pid
        wait_for(
            lambda: _a_holds_everything(chaos_db, ids, a_owner),
            timeout=60,
            what="A to claim every task and heartbeat",
        )
        b = fleet.start("B", concurrency=len(ids))
        b_owner = fleet.wait_started(b)
        time.sleep(0.5)

        with paused(chaos_db, a) as stopped_at:
            took = wait_for(
                lambda: _b_took_over(chaos_db, ids, a_owner, b_owner),
                timeout=60,
                what="B to recover A's expired leases and claim the tasks again",
            )
            assert took >= LEASE * 0.5, "A's leases expired suspiciously early"
            time.sleep(max(0.0, stopped_at + STOP_FOR - time.time()))
            release.touch()  # A's "flag" handlers will run their step as soon as A runs
            resumed_at = time.time()
        stopped_for = resumed_at - stopped_at

        wait_for(chaos_db.all_final, timeout=60, what="every task to be final")
        codes = {"A": a.terminate(), "B": b.terminate()}  # A flushes every refused write
        assert codes == {"A": 0, "B": 0}, f"exit codes after SIGTERM: {codes}"

        report = _check_store(chaos_db, ids, a_owner, b_owner, b.pid, resumed_at)
        report.update(_check_sink(read_sink(sink_path), modes, a.pid, resumed_at))
        a_stats, b_stats = a.stats(), b.stats()
        assert a_stats is not None and b_stats is not None, "a worker logged no final stats"
        refused = a_stats["renewals_refused"] + a_stats["completions_refused"]
        assert refused > 0, f"A's stats show nothing refused: {a_stats}"
        assert a_stats["claimed"] == len(ids) and a_stats["succeeded"] == 0, a_stats
        # Each of A's attempts ended either stopped by a refused renewal (lease_lost) or
        # with an outcome the store refused: none is unaccounted for.
        assert a_stats["lease_lost"] + a_stats["completions_refused"] == len(ids), a_stats
        assert a.warnings("refused"), "A logged no refusal"
        assert b_stats["recovered"] == len(ids) and b_stats["succeeded"] == len(ids), b_stats
        print(
            f"\n[chaos sigstop {chaos_db.dialect}] {time.monotonic() - began:.1f}s "
            f"stopped {stopped_for:.1f}s, B took over after {took:.1f}s; {report}; "
            f"A stats {a_stats}"
        )
