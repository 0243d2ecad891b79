"""SIGKILL chaos for workflow runs: workers die while they run the phases of many runs.

N runs of ``chaos.flow`` (``a -> (b, c) -> d -> e``; ``c`` fans out over the 3 items
of the run input, 2 at a time) are started; every phase task runs 3 memoized steps
(``ctx.step``, each sleeping ~60 ms), checkpoints after each new one (not after a
replayed one: that would move the checkpoint back), and returns a value
computed from the input and the results it runs after. 3 workers serve them; a worker
is SIGKILLed (and replaced at once) as the runs progress, in turns:

* ``mid-step``: a worker holding running tasks, at a random moment (mostly inside a
  step's sleep, i.e. before the step was recorded);
* ``step-return``: the worker whose step body just returned (the sink line
  ``step_ret``), racing the commit of that step's record;
* ``phase-return``: the worker whose phase handler just returned (``phase_done``),
  racing the commit of the task's success together with the run's next step.

The invariants (checked from the database, the run API and the sink), where an
*attempt* is one claim of a task (``task.started``) and a task *succeeded* once its
``task.succeeded`` committed (with the run's next step, in one transaction):

1. Every run ended ``succeeded``, every phase ``succeeded`` at phase attempt 1 (no
   gates, so a phase never starts twice) with the right result; no run is active, no
   task is live, every task of a run is one of the 7 expected (one per plain phase,
   one per fan-out item, each with a phase step attempt 1).
2. Like ``test_kill_workers.py``: every task succeeded exactly once (one
   ``task.succeeded``, by the attempt the row ended with, by its claimant, the result
   from that attempt); every other claim ended in a ``task.lease_expired`` of a
   **killed** worker; nothing of a task happens after its success (no claim, no
   checkpoint, no expiry), the run events are exactly one ``run.started``, one
   ``phase.ready/started/succeeded`` per phase and one ``run.succeeded``, in DAG order
   (a phase starts after the success of every phase it runs after, its tasks are
   enqueued after it started and claimed before it succeeded), and the reconciler
   never had to repair a run.
3. 0 succeeded phases ran twice. A phase task's handler may return more than once
   (at-least-once): if its worker was killed after ``phase_done`` but before the
   outcome committed, the attempt is not a success - it expired and a later attempt
   ran the phase again. So: every execution in the sink is a claimed attempt run by
   its claimant; each task has exactly one ``phase_done`` of the attempt that
   succeeded; every other execution (and every other ``phase_done``) belongs to an
   earlier attempt that expired because its worker was killed; no attempt after the
   succeeded one exists (a succeeded task is never claimed again: its phase ran once).
4. 0 recorded steps ran twice. Each step is recorded once per task (``coord_steps``),
   the result carries the recording attempt of each step, and a step body ran again
   only in attempts that were killed *before* the step's record committed (earlier,
   expired attempts of killed workers): never in the recording attempt twice, never in
   an attempt after the recording one (those must replay it). The record is fenced
   (written only while its attempt holds the lease), so it committed before any later
   attempt was claimed: a body run by a later attempt is a recorded step run twice.
   Checkpoints: a first attempt resumes from nothing, a retry from at most the steps
   recorded before it, never going backwards.

The summary line (``-s``) counts the allowed re-executions: ``extra_executions``
(attempts of killed workers), ``extra_phase_returns_uncommitted`` (handlers that
returned but whose success never committed), ``step_bodies_rerun_killed_before_record``
and, for the kills that raced a line, whether they landed before or after its commit.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from coord.operations import RunFilter
from tests.chaos import chaos_app
from tests.chaos.harness import (
    CHAOS_GROUP,
    FULL,
    ChaosDB,
    Fleet,
    RunSinkRecord,
    WorkerProcess,
    owner_pid,
    read_run_sink,
    run_sink_record,
    wait_for,
)

pytestmark = [pytest.mark.chaos, pytest.mark.slow, CHAOS_GROUP]

PHASES = chaos_app.FLOW_PHASES
STEPS = chaos_app.FLOW_STEPS
TASKS_PER_RUN = len(PHASES) - 1 + chaos_app.FLOW_ITEMS
MODES = ("mid-step", "step-return", "phase-return")
_TASK_TOPICS = {
    "task.enqueued",
    "task.started",
    "task.checkpointed",
    "task.progress",
    "task.lease_expired",
    "task.succeeded",
}
_RUN_TOPICS = {"run.started", "phase.ready", "phase.started", "phase.succeeded", "run.succeeded"}


@dataclass(frozen=True)
class Plan:
    runs: int
    kills: int
    workers: int  # alive at any time (each killed one is replaced at once)
    concurrency: int


SHORT = Plan(runs=30, kills=12, workers=3, concurrency=4)
LONG = Plan(runs=220, kills=45, workers=3, concurrency=6)


@dataclass(frozen=True)
class Kill:
    pid: int
    mode: str  # how the victim was picked (MODES)
    running: int  # tasks it held (state running) when it died
    done: int  # tasks succeeded overall just after
    line: RunSinkRecord | None  # the sink line the kill raced (step-return, phase-return)


@dataclass(frozen=True)
class RunTask:
    id: str
    state: str
    attempt: int
    owner: str | None
    result: Any
    run_id: str
    phase: str
    step: dict[str, Any]


@dataclass(frozen=True)
class Event:
    id: int
    topic: str
    task_id: str | None
    run_id: str | None
    actor: str | None
    data: dict[str, Any]


class SinkTail:
    """Reads the lines appended to the sink since the last call (one ``write`` per
    line, so a line is either there whole or not yet)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def skip(self) -> None:
        """Forget what is there now."""
        self.new_lines()

    def new_lines(self) -> list[RunSinkRecord]:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self.partial + data
        *lines, self.partial = data.split(b"\n")
        return [run_sink_record(raw.decode()) for raw in lines]


def _start_runs(db: ChaosDB, plan: Plan) -> dict[str, int]:
    """Start the runs; return the ``n`` of each run id."""
    app = chaos_app.build_app(db.url)
    try:
        expected = {
            app.runs.start(chaos_app.FLOW, chaos_app.flow_input(n)).id: n for n in range(plan.runs)
        }
    finally:
        app.close()
    assert len(expected) == plan.runs
    return expected


def _thresholds(plan: Plan, rng: random.Random) -> list[int]:
    """When to kill: after 5%..85% of the tasks succeeded, spread evenly, jittered."""
    total = plan.runs * TASKS_PER_RUN
    span = 0.80 / max(1, plan.kills - 1)
    marks = [0.05 + k * span + rng.uniform(0, span / 2) for k in range(plan.kills)]
    return sorted(int(total * min(m, 0.9)) for m in marks)


def _holding(fleet: Fleet, db: ChaosDB) -> list[tuple[WorkerProcess, int]]:
    running = {owner_pid(owner): n for owner, n in db.running_per_owner().items()}
    return [(w, running[w.pid]) for w in fleet.alive() if running.get(w.pid, 0) > 0]


def _pick_victim(fleet: Fleet, db: ChaosDB, rng: random.Random, timeout: float = 60.0) -> int:
    """The pid of a live worker that holds running tasks right now."""
    deadline = time.monotonic() + timeout
    while True:
        holding = _holding(fleet, db)
        if holding:
            return rng.choice(holding)[0].pid
        if time.monotonic() > deadline:
            raise AssertionError(f"no live worker held a running task for {timeout:g}s")
        time.sleep(0.02)


def _next_line(
    fleet: Fleet, tail: SinkTail, kind: str, timeout: float = 30.0
) -> RunSinkRecord | None:
    """The next ``kind`` line a live worker appends to the sink (None after
    ``timeout``); polled every 2 ms so that the kill lands while the worker is still
    committing what the line announced."""
    tail.skip()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = {w.pid for w in fleet.alive()}
        for line in tail.new_lines():
            if line.kind == kind and line.pid in alive:
                return line
        time.sleep(0.002)
    return None


def _kill(fleet: Fleet, db: ChaosDB, pid: int, mode: str, line: RunSinkRecord | None) -> Kill:
    fleet.by_pid()[pid].kill()  # at once: a kill racing a commit must not wait for a query
    done = db.count_in("succeeded")
    # The dead worker's leases are still there: what it held is still "running".
    held = sum(n for owner, n in db.running_per_owner().items() if owner_pid(owner) == pid)
    return Kill(pid, mode, held, done, line)


def _runs_active(db: ChaosDB) -> int:
    [(n,)] = db.rows(
        "SELECT count(*) FROM coord_runs WHERE state NOT IN ('succeeded', 'failed', 'cancelled')"
    )
    return int(n)


def _load_tasks(db: ChaosDB) -> dict[str, RunTask]:
    rows = db.rows(
        "SELECT CAST(id AS TEXT), name, state, attempt, owner, CAST(result AS TEXT), "
        "CAST(run_id AS TEXT), phase, CAST(run_step AS TEXT) FROM coord_tasks"
    )
    tasks = {}
    for r in rows:
        assert r[1] == chaos_app.PHASE, f"task {r[0]} of an unexpected name {r[1]!r}"
        assert r[6] is not None and r[8] is not None, f"task {r[0]} outside a run"
        result = None if r[5] is None else json.loads(r[5])
        tasks[r[0]] = RunTask(r[0], r[2], r[3], r[4], result, r[6], r[7], json.loads(r[8]))
    return tasks


def _load_events(db: ChaosDB) -> list[Event]:
    rows = db.rows(
        "SELECT id, topic, CAST(task_id AS TEXT), CAST(run_id AS TEXT), actor, "
        "CAST(data AS TEXT) FROM coord_events ORDER BY id"
    )
    return [
        Event(r[0], r[1], r[2], r[3], r[4], {} if r[5] is None else json.loads(r[5])) for r in rows
    ]


def _check_runs(db: ChaosDB, expected: dict[str, int]) -> None:
    """Invariant 1, through the run API: every run and phase succeeded, right results."""
    app = chaos_app.build_app(db.url)
    try:
        listed = {r.id for r in app.runs.find(RunFilter(limit=len(expected) + 10))}
        assert listed == expected.keys(), "runs nobody started appeared (or runs got lost)"
        states: Counter[str] = Counter()
        for run_id, n in expected.items():
            run = app.runs.get(run_id)
            states[run.state.value] += 1
            if run.state.value != "succeeded":
                continue
            values = chaos_app.expected_flow_values(n)
            assert [p.name for p in run.phases] == list(PHASES)
            for p in run.phases:
                trail = f"run {run_id} phase {p.name}: {p.state} attempt {p.attempt} {p.result}"
                assert p.state.value == "succeeded" and p.attempt == 1 and p.loops == 0, trail
                if p.name == "c":
                    assert p.items == chaos_app.FLOW_ITEMS, trail
                    assert [r["value"] for r in p.result] == values["c"], trail
                else:
                    assert p.result["value"] == values[p.name], trail
        assert states == Counter({"succeeded": len(expected)}), f"not all succeeded: {states}"
    finally:
        app.close()


def _check_history(
    db: ChaosDB,
    expected: dict[str, int],
    killed: set[int],
    sink: list[RunSinkRecord],
) -> dict[str, int]:
    """Invariants 1-4 from the tables and the sink; returns the numbers to report."""
    tasks = _load_tasks(db)
    events = _load_events(db)

    # 1. The tasks of each run: one per plain phase, one per fan-out item, all done.
    by_run: dict[str, dict[tuple[str, int | None], RunTask]] = defaultdict(dict)
    for t in tasks.values():
        assert t.run_id in expected, f"task {t.id} of an unknown run {t.run_id}"
        role = "item" if t.phase == "c" else "phase"
        assert t.step.get("role") == role and t.step.get("attempt") == 1, f"{t.id}: {t.step}"
        slot = (t.phase, t.step.get("item"))
        assert slot not in by_run[t.run_id], f"run {t.run_id}: two tasks for {slot}"
        by_run[t.run_id][slot] = t
    want = {(p, None) for p in PHASES if p != "c"} | {("c", i) for i in range(chaos_app.FLOW_ITEMS)}
    for run_id in expected:
        assert set(by_run[run_id]) == want, f"run {run_id}: tasks {sorted(by_run[run_id])}"
    states = Counter(t.state for t in tasks.values())
    assert states == Counter({"succeeded": len(expected) * TASKS_PER_RUN}), f"tasks: {states}"
    for run_id, n in expected.items():
        values = chaos_app.expected_flow_values(n)
        for (phase, item), t in by_run[run_id].items():
            value = values[phase] if item is None else values[phase][item]
            trail = f"task {t.id} ({run_id} {phase} {item}): {t.result}"
            assert t.owner is None, trail
            assert t.result["value"] == value, trail
            assert t.result["attempt"] == t.attempt, f"result of a stale attempt: {trail}"

    # 2. The task events, as in test_kill_workers.py, plus: nothing after the success.
    started: dict[tuple[str, int], Event] = {}
    expired: dict[tuple[str, int], Event] = {}
    succeeded: dict[str, list[Event]] = defaultdict(list)
    last_of_task: dict[str, int] = {}
    run_events: dict[str, list[Event]] = defaultdict(list)
    unexpected: list[Event] = []
    for e in events:
        if e.task_id is None:
            if e.topic in _RUN_TOPICS and e.run_id in expected:
                run_events[e.run_id].append(e)
            else:
                unexpected.append(e)
            continue
        if e.topic not in _TASK_TOPICS:
            unexpected.append(e)
            continue
        if e.topic != "task.succeeded":
            last_of_task[e.task_id] = e.id
        key = (e.task_id, int(e.data.get("attempt", 0)))
        if e.topic == "task.started":
            assert key not in started, f"attempt {key} claimed twice"
            assert e.actor is not None
            started[key] = e
        elif e.topic == "task.lease_expired":
            assert key not in expired, f"attempt {key} expired twice"
            expired[key] = e
        elif e.topic == "task.succeeded":
            succeeded[e.task_id].append(e)
    assert not unexpected, f"unexpected events: {unexpected[:5]}"
    reconciled = [e for e in events if e.actor == "coord:reconciler"]
    assert not reconciled, f"the reconciler had to advance runs: {reconciled[:5]}"

    twice = {t: len(evs) for t, evs in succeeded.items() if len(evs) != 1}
    assert not twice, f"tasks with != 1 task.succeeded event: {list(twice.items())[:5]}"
    assert succeeded.keys() == tasks.keys()
    final: dict[str, tuple[str, int]] = {}
    success_event: dict[str, Event] = {}
    for task_id, [event] in succeeded.items():
        row = tasks[task_id]
        final[task_id] = key = (task_id, row.attempt)
        success_event[task_id] = event
        assert event.data["attempt"] == row.attempt, f"{task_id}: success of a stale attempt"
        assert key in started and started[key].actor == event.actor, (
            f"{task_id}: completed by a non-owner:\n{db.history(task_id)}"
        )
        assert last_of_task[task_id] < event.id, (
            f"task {task_id} was claimed, checkpointed or expired after it succeeded:\n"
            f"{db.history(task_id)}"
        )
    successes = set(final.values())
    for key, event in started.items():
        if key in successes:
            continue
        owner = event.actor
        assert key in expired, f"attempt {key} by {owner} neither succeeded nor expired"
        assert expired[key].data.get("owner") == owner, f"attempt {key}: wrong owner expired"
        assert owner_pid(owner) in killed, f"attempt {key}: live worker {owner} lost its lease"
        assert key[1] < tasks[key[0]].attempt
    assert not expired.keys() & successes, "an expired attempt also succeeded"

    # 2. The run events: exactly the expected ones, in DAG order.
    enqueued = {e.task_id: e.id for e in events if e.topic == "task.enqueued"}
    first_start: dict[str, int] = {}
    for (task_id, _), e in sorted(started.items(), key=lambda kv: kv[1].id):
        first_start.setdefault(task_id, e.id)
    for run_id in expected:
        evs = run_events[run_id]
        topics = Counter((e.topic, e.data.get("phase")) for e in evs)
        want_topics: Counter[tuple[str, str | None]] = Counter(
            {("run.started", None): 1, ("run.succeeded", None): 1}
        )
        for p in PHASES:
            for topic in ("phase.ready", "phase.started", "phase.succeeded"):
                want_topics[(topic, p)] = 1
        assert topics == want_topics, f"run {run_id}: run events {dict(topics)}"
        assert evs[0].topic == "run.started" and evs[-1].topic == "run.succeeded"
        at = {(e.topic, e.data.get("phase")): e for e in evs}
        for p in PHASES:
            began, ended = at[("phase.started", p)], at[("phase.succeeded", p)]
            assert began.data.get("attempt") == 1 and ended.data.get("attempt") == 1
            for dep in chaos_app.FLOW_AFTER[p]:
                assert at[("phase.succeeded", dep)].id < began.id, (
                    f"run {run_id}: {p} started before {dep} succeeded"
                )
            for (phase, _), t in by_run[run_id].items():
                if phase != p:
                    continue
                trail = f"run {run_id} phase {p} task {t.id}:\n{db.history(t.id)}"
                assert began.id < enqueued[t.id] < first_start[t.id], trail
                assert success_event[t.id].id <= ended.id, trail
                # Nothing of a succeeded phase's tasks happened after its success.
                assert last_of_task[t.id] < ended.id, trail

    # 3. The sink: every execution was a claimed attempt run by its claimant; the
    # succeeded attempt returned exactly once; every other execution is an earlier
    # attempt of a killed worker that expired (at-least-once, never after the success).
    executions: dict[tuple[str, int], list[RunSinkRecord]] = defaultdict(list)
    for r in sink:
        executions[(r.task_id, r.attempt)].append(r)
    extra = extra_returned = 0
    for key, records in executions.items():
        task_id, attempt = key
        assert task_id in tasks, f"execution {key} of an unknown task"
        task = tasks[task_id]
        assert {(r.run_id, r.phase) for r in records} == {(task.run_id, task.phase)}
        pids = {r.pid for r in records}
        assert key in started, f"execution {key} of an attempt never claimed"
        assert pids == {owner_pid(started[key].actor)}, f"execution {key} ran in {pids}"
        assert attempt <= task.attempt, f"execution {key} after the task succeeded"
        kinds = Counter(r.kind for r in records)
        assert kinds["begin"] == 1 and kinds["phase_done"] <= 1, f"execution {key}: {kinds}"
        per_step = Counter((r.kind, r.detail) for r in records if r.kind in ("step", "step_ret"))
        assert all(n == 1 for n in per_step.values()), f"execution {key} ran a step twice"
        if key in successes:
            assert kinds["phase_done"] == 1, f"succeeded attempt {key} never returned"
            continue
        extra += 1
        extra_returned += kinds["phase_done"]
        assert pids <= killed, f"extra execution {key} by a worker that was not killed"
        assert key in expired, f"extra execution {key} without a task.lease_expired event"
    never_ran = successes - executions.keys()
    assert not never_ran, f"successes with no execution recorded: {sorted(never_ran)[:3]}"
    done_lines = Counter(r.task_id for r in sink if r.kind == "phase_done")
    assert all(done_lines[t] >= 1 for t in tasks)

    # 4. Steps: recorded once per task, carried by the result, run again only by
    # attempts killed before the record committed (never after it: those replay).
    recorded: dict[tuple[str, str], int] = {}
    for task_id, name, attempt in db.steps():
        assert (task_id, name) not in recorded
        recorded[(task_id, name)] = attempt
    assert len(recorded) == len(tasks) * len(STEPS)
    ran: dict[tuple[str, str], set[int]] = defaultdict(set)
    returned: dict[tuple[str, str], set[int]] = defaultdict(set)
    for r in sink:
        if r.kind in ("step", "step_ret"):
            name = r.detail.split("@")[0]
            (ran if r.kind == "step" else returned)[(r.task_id, name)].add(r.attempt)
    replayed = rerun = rerun_after_return = 0
    for task_id, task in tasks.items():
        for name in STEPS:
            by = recorded[(task_id, name)]
            attempts = ran[(task_id, name)]
            trail = (
                f"task {task_id} step {name}: ran in attempts {sorted(attempts)}, recorded by "
                f"{by}, task attempt {task.attempt}"
            )
            assert task.result["steps"][name] == by, trail
            assert by in attempts and by in returned[(task_id, name)], trail
            assert by <= task.attempt, trail
            for attempt in attempts - {by}:
                assert attempt < by, f"a recorded step ran again: {trail}"
                assert (task_id, attempt) in expired, trail
                assert owner_pid(started[(task_id, attempt)].actor) in killed, trail
                rerun += 1
                rerun_after_return += attempt in returned[(task_id, name)]
            replayed += by < task.attempt

    # 4. Checkpoints: a retry resumes from steps recorded before it, never backwards.
    resumed: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for r in sink:
        if r.kind == "begin":
            resumed[r.task_id].append((r.attempt, int(r.detail.split("@")[0])))
    resumes = 0
    for task_id, marks in resumed.items():
        marks.sort()
        previous = 0
        for attempt, steps_done in marks:
            trail = f"task {task_id}: resumed from checkpoints {marks}"
            assert steps_done >= previous, trail
            assert attempt > 1 or steps_done == 0, trail
            for name in STEPS[:steps_done]:
                assert recorded[(task_id, name)] < attempt, trail
            previous = steps_done
            resumes += steps_done > 0

    return {
        "tasks": len(tasks),
        "claims": len(started),
        "expired_attempts": len(expired),
        "extra_executions": extra,
        "extra_phase_returns_uncommitted": extra_returned,
        "expired_before_handler_start": len(expired.keys() - executions.keys()),
        "steps_recorded": len(recorded),
        "steps_replayed_from_store": replayed,
        "step_bodies_rerun_killed_before_record": rerun,
        "of_which_after_body_returned": rerun_after_return,
        "resumed_from_checkpoint": resumes,
        "max_attempt": max(t.attempt for t in tasks.values()),
    }


@contextmanager
def _post_mortem(db: ChaosDB, workdir: Path) -> Iterator[None]:
    """On failure: save the run tables next to the worker logs and print the history
    of the runs that did not succeed (``app.runs.events``)."""
    try:
        yield
    except BaseException:
        try:
            for table in ("coord_runs", "coord_phases", "coord_steps"):
                rows = db.rows(f"SELECT * FROM {table}")
                path = workdir / f"{table}.tsv"
                path.write_text("\n".join("\t".join(map(str, row)) for row in rows) + "\n")
            stuck = [r[0] for r in db.rows("SELECT CAST(id AS TEXT), state FROM coord_runs")]
            app = chaos_app.build_app(db.url)
            try:
                unfinished = [i for i in stuck if app.runs.get(i).state.value != "succeeded"]
                print(f"\n{len(unfinished)} runs did not succeed")
                for run_id in unfinished[:3]:
                    run = app.runs.get(run_id)
                    print(f"--- run {run_id} {run.state.value} {run.reason} {run.detail}")
                    for p in run.phases:
                        print(f"  phase {p.name}: {p.state.value} attempt {p.attempt} {p.error}")
                    for e in app.runs.events(run_id):
                        print(f"  #{e.id} {e.topic} task={e.task_id} by {e.actor}: {e.data}")
            finally:
                app.close()
        except Exception as exc:  # diagnostics must never hide the real failure
            print(f"post-mortem failed: {exc!r}")
        raise


def _raced(kills: list[Kill], db: ChaosDB) -> dict[str, int]:
    """Did the return-racing kills land before or after the commit they raced?"""
    tasks = {t.id: t for t in _load_tasks(db).values()}
    recorded = {(t, n): a for t, n, a in db.steps()}
    out: Counter[str] = Counter()
    for k in kills:
        if k.line is None:
            continue
        if k.mode == "phase-return":
            committed = tasks[k.line.task_id].attempt == k.line.attempt
        else:
            name = k.line.detail.split("@")[0]
            committed = recorded[(k.line.task_id, name)] == k.line.attempt
        out[f"{k.mode}_{'after' if committed else 'before'}_commit"] += 1
    return dict(out)


@pytest.mark.timeout(3600 if FULL else 300)
def test_sigkilled_workers_finish_every_run_and_repeat_no_succeeded_phase_or_recorded_step(
    chaos_db: ChaosDB, tmp_path: Path
) -> None:
    plan = LONG if FULL else SHORT
    seed = int(os.environ.get("COORD_CHAOS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    began = time.monotonic()
    expected = _start_runs(chaos_db, plan)
    total = plan.runs * TASKS_PER_RUN
    sink = tmp_path / "sink.log"
    tail = SinkTail(sink)
    kills: list[Kill] = []
    with Fleet(tmp_path, chaos_db, sink) as fleet, _post_mortem(chaos_db, tmp_path):
        fleet.notes.append(f"seed={seed} plan={plan}")
        for _ in range(plan.workers):
            fleet.start(concurrency=plan.concurrency)
        for index, threshold in enumerate(_thresholds(plan, rng)):
            wait_for(
                lambda t=threshold: chaos_db.count_in("succeeded") >= t,
                timeout=120,
                what=f"{threshold} tasks to succeed",
                interval=0.05,
            )
            mode = MODES[index % len(MODES)]
            line = None
            if mode == "mid-step":
                time.sleep(rng.uniform(0.0, 0.25))  # land anywhere in a step's sleep
            else:
                kind = "step_ret" if mode == "step-return" else "phase_done"
                line = _next_line(fleet, tail, kind)
            if line is None:
                mode = "mid-step"
                pid = _pick_victim(fleet, chaos_db, rng)
            else:
                pid = line.pid
            kills.append(_kill(fleet, chaos_db, pid, mode, line))
            fleet.start(concurrency=plan.concurrency)
        fleet.notes.append(f"kills={kills}")
        assert len(kills) == plan.kills
        assert all(k.done < total for k in kills), "a kill came after the runs finished"

        waited = wait_for(
            lambda: _runs_active(chaos_db) == 0 and chaos_db.all_final(),
            timeout=1200 if FULL else 180,
            what="every run to end",
        )
        survivors = fleet.alive()
        assert len(survivors) == plan.workers, "a worker died without being killed"
        codes = {w.name: w.terminate() for w in survivors}
        assert set(codes.values()) == {0}, f"exit codes after SIGTERM: {codes}"
        stats = [w.stats() for w in survivors]
        assert all(s is not None for s in stats), "a worker did not log its final stats"
        engine_failures = [
            f"{w.name}: {e.get('message')}"
            for w in fleet.workers
            for e in w.log_lines()
            if "run engine failed" in str(e.get("message"))
            or "reconciling run" in str(e.get("message"))
        ]
        assert not engine_failures, f"the run engine failed: {engine_failures[:3]}"

        killed = {k.pid for k in kills}
        _check_runs(chaos_db, expected)
        report: dict[str, Any] = _check_history(chaos_db, expected, killed, read_run_sink(sink))
        report.update(_raced(kills, chaos_db))
        report.update(
            runs=plan.runs,
            kills=len(kills),
            kills_by_mode=dict(Counter(k.mode for k in kills)),
            running_at_kills=sum(k.running for k in kills),
            workers_started=len(fleet.workers),
            drain_after_last_kill_s=round(waited, 1),
            survivor_completions_refused=sum(s["completions_refused"] for s in stats if s),
            survivor_recovered=sum(s["recovered"] for s in stats if s),
        )
        print(
            f"\n[chaos runs {chaos_db.dialect}] seed={seed} "
            f"{time.monotonic() - began:.1f}s {report}"
        )
        assert report["expired_attempts"] > 0, "no kill interrupted a running task"
