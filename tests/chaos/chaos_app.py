"""The App that the chaos tests' worker processes serve.

Workers run it with ``coord worker --app tests.chaos.chaos_app:app``; everything comes
from the environment:

* ``COORD_DATABASE_URL`` (and the other ``COORD_*`` settings), as for any worker;
* ``CHAOS_SINK``: a file every execution is recorded in, one line per event:
  ``kind task_id attempt pid wall_time``. Lines are written with one ``write(2)`` on an
  ``O_APPEND`` descriptor and fsynced: once ``record`` returned, a SIGKILL (or a crash
  of the machine) cannot lose the line, and concurrent writers never interleave;
* ``CHAOS_RELEASE``: a file whose existence lets ``chaos.beat`` tasks in ``flag`` mode
  finish their first attempt.

The workflow ``chaos.flow`` (5 phases, one a fan-out, see :func:`build_app`) records
its executions in the same sink with :func:`record_run`, whose lines carry three more
fields (``run_id phase detail``); a test reads those with ``read_run_sink``.

The test process builds its own App on the same database with :func:`build_app` (the
task names and policies must match the workers').
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import coord

SINK_ENV = "CHAOS_SINK"
RELEASE_ENV = "CHAOS_RELEASE"
WORK = "chaos.work"
BEAT = "chaos.beat"
PHASE = "chaos.phase"
FLOW = "chaos.flow"
FLOW_PHASES = ("a", "b", "c", "d", "e")
FLOW_AFTER = {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c"), "e": ("d",)}
FLOW_ITEMS = 3  # fan-out items of phase c (its parallelism is 2)
FLOW_STEPS = ("s0", "s1", "s2")  # the memoized steps of every phase task
BEAT_INTERVAL = 0.1  # seconds between heartbeats of chaos.beat
BEAT_SAFETY = 60.0  # a first attempt that is never fenced out gives up after this long

T = TypeVar("T")
_sink_lock = threading.Lock()
_sink_fd: int | None = None


def _sink() -> int:
    global _sink_fd  # noqa: PLW0603  (one descriptor per process, opened on first use)
    with _sink_lock:
        if _sink_fd is None:
            _sink_fd = os.open(os.environ[SINK_ENV], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        return _sink_fd


def record(kind: str, task_id: str, attempt: int) -> None:
    """Append ``kind task_id attempt pid time`` to the sink, durably."""
    line = f"{kind} {task_id} {attempt} {os.getpid()} {time.time():.6f}\n".encode()
    fd = _sink()
    os.write(fd, line)
    os.fsync(fd)


def record_run(
    kind: str, task_id: str, attempt: int, run_id: str | None, phase: str | None, detail: Any
) -> None:
    """Append ``kind task_id attempt pid time run_id phase detail`` to the sink, durably
    (the lines of :func:`record` plus where in which run; ``detail`` has no spaces)."""
    line = (
        f"{kind} {task_id} {attempt} {os.getpid()} {time.time():.6f} {run_id} {phase} {detail}\n"
    ).encode()
    fd = _sink()
    os.write(fd, line)
    os.fsync(fd)


def flow_input(n: int) -> dict[str, Any]:
    """The input of run ``n`` of ``chaos.flow``."""
    return {"n": n, "items": [10 * n + j for j in range(FLOW_ITEMS)]}


def expected_flow_values(n: int) -> dict[str, Any]:
    """The ``value`` each phase of run ``n`` returns (for ``c``: one per item)."""
    a = n + 1
    b = 2 * a
    c = [a + 3 * item for item in flow_input(n)["items"]]
    d = b + sum(c)
    return {"a": a, "b": b, "c": c, "d": d, "e": 10 * d}


def _flow_value(ctx: coord.Context) -> int:
    """What a phase of ``chaos.flow`` computes from the run input and the results of
    the phases it runs after (so a wrong or missing result shows in the last phase)."""
    results = ctx.results
    if ctx.phase == "a":
        return int(ctx.input["n"]) + 1
    if ctx.phase == "b":
        return 2 * int(results["a"]["value"])
    if ctx.phase == "c":
        return int(results["a"]["value"]) + 3 * int(ctx.item)
    if ctx.phase == "d":
        return int(results["b"]["value"]) + sum(int(r["value"]) for r in results["c"])
    if ctx.phase == "e":
        return 10 * int(results["d"]["value"])
    raise ValueError(f"chaos.flow has no phase {ctx.phase!r}")


async def _flow_step(ctx: coord.Context, name: str, ms: float) -> dict[str, int]:
    """The body of a memoized step: recorded in the sink when it starts and when it
    returns (a kill may land in between, or just after, racing the step's record)."""
    detail = f"{name}@{ctx.item_index if ctx.item_index is not None else '-'}"
    record_run("step", ctx.task_id, ctx.attempt, ctx.run_id, ctx.phase, detail)
    await asyncio.sleep(ms * (0.5 + random.random()) / 1000)
    record_run("step_ret", ctx.task_id, ctx.attempt, ctx.run_id, ctx.phase, detail)
    return {"attempt": ctx.attempt, "pid": os.getpid()}


def expected_result(n: int) -> int:
    """The ``value`` that ``chaos.work`` returns for ``n``."""
    return 3 * n + 1


def _fenced(kind: str, ctx: coord.SyncContext, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Call ``fn``, recording ``<kind>-ok`` or ``<kind>-lost`` (LeaseLost, re-raised)."""
    try:
        result = fn(*args, **kw)
    except coord.LeaseLost:
        record(f"{kind}-lost", ctx.task_id, ctx.attempt)
        raise
    record(f"{kind}-ok", ctx.task_id, ctx.attempt)
    return result


def _effect(attempt: int) -> dict[str, int]:
    """The memoized step of ``chaos.beat``: who ran it."""
    return {"attempt": attempt, "pid": os.getpid()}


def _effect_recorded(task_id: str, attempt: int) -> dict[str, int]:
    """The memoized step of ``chaos.work``: recorded in the sink each time it runs."""
    record("effect", task_id, attempt)
    return _effect(attempt)


def build_app(database_url: str | None = None) -> coord.App:
    """The chaos App on ``database_url`` (default: ``COORD_DATABASE_URL``)."""
    app = coord.App(database_url)

    @app.task(name=WORK, retries=50, retry_backoff=0.05, retry_backoff_max=0.5, timeout=None)
    async def work(ctx: coord.Context, n: int, ms: float, step: bool = False) -> dict[str, Any]:
        """Record the start, sleep ``ms`` (so kills land mid-task), optionally run a
        memoized step (an "effect" recorded in the sink when it really runs), record
        the end. The result says which attempt's effect it got."""
        record("start", ctx.task_id, ctx.attempt)
        await asyncio.sleep(ms / 1000)
        effect = None
        if step:
            effect = await ctx.step("effect", _effect_recorded, ctx.task_id, ctx.attempt)
        record("end", ctx.task_id, ctx.attempt)
        return {"value": expected_result(n), "effect": effect}

    @app.task(
        name=BEAT, heartbeat=1.0, retries=5, retry_backoff=0.05, retry_backoff_max=0.5, timeout=None
    )
    def beat(ctx: coord.SyncContext, mode: str, retry_seconds: float = 0.5) -> dict[str, Any]:
        """Heartbeat every 100 ms and checkpoint every 5 beats, then run one memoized
        step; record each of these calls and whether it raised LeaseLost.

        The first attempt runs until it is fenced out (``mode="lost"``) or until the
        release file exists (``mode="flag"``); later attempts run ``retry_seconds``.
        A sync handler on purpose: its thread keeps running after the worker stopped
        the attempt, so it is the one that sees ``LeaseLost`` raised.
        """
        record("start", ctx.task_id, ctx.attempt)
        first = ctx.attempt == 1
        deadline = time.monotonic() + (BEAT_SAFETY if first else retry_seconds)
        release = os.environ.get(RELEASE_ENV, "")
        beats = 0
        while True:
            _fenced("beat", ctx, ctx.heartbeat, progress=min(beats / 100, 1.0))
            beats += 1
            if beats % 5 == 0:
                _fenced("checkpoint", ctx, ctx.checkpoint, {"beats": beats})
            if first and mode == "flag" and release and os.path.exists(release):
                break
            if time.monotonic() >= deadline:
                if first:
                    record("safety", ctx.task_id, ctx.attempt)
                break
            time.sleep(BEAT_INTERVAL)
        effect = _fenced("step", ctx, ctx.step, "effect", _effect, ctx.attempt)
        record("end", ctx.task_id, ctx.attempt)
        return {"attempt": ctx.attempt, "pid": os.getpid(), "beats": beats, "effect": effect}

    @app.task(name=PHASE, retries=50, retry_backoff=0.05, retry_backoff_max=0.5, timeout=None)
    async def phase(ctx: coord.Context, ms: float = 60.0) -> dict[str, Any]:
        """A phase task of ``chaos.flow``: record its start (with the checkpoint it
        resumes from), run the memoized steps (each sleeps about ``ms``; their bodies
        record themselves), checkpoint after each step past the one resumed from, sleep
        a little between them, record that the handler returns (``phase_done``) and
        return. The result says which attempt recorded each step."""
        checkpoint = ctx.last_checkpoint
        resumed = int(checkpoint["steps"]) if isinstance(checkpoint, dict) else 0
        where = ctx.item_index if ctx.item_index is not None else "-"
        record_run("begin", ctx.task_id, ctx.attempt, ctx.run_id, ctx.phase, f"{resumed}@{where}")
        recorded: dict[str, int] = {}
        for index, name in enumerate(FLOW_STEPS):
            value = await ctx.step(name, _flow_step, ctx, name, ms)
            recorded[name] = int(value["attempt"])
            if index + 1 > resumed:  # a replayed step must not move the checkpoint back
                await ctx.checkpoint({"steps": index + 1})
            await asyncio.sleep(ms * random.random() / 2000)
        result = {"value": _flow_value(ctx), "steps": recorded, "attempt": ctx.attempt}
        record_run("phase_done", ctx.task_id, ctx.attempt, ctx.run_id, ctx.phase, where)
        return result

    flow = app.workflow(FLOW, description="chaos: a -> (b, c[fan-out]) -> d -> e")
    flow.phase("a", task=phase)
    flow.phase("b", task=phase, after=["a"])
    flow.phase("c", task=phase, after=["a"], fan_out={"over": "input.items", "parallelism": 2})
    flow.phase("d", task=phase, after=["b", "c"])
    flow.phase("e", task=phase, after=["d"])
    return app


app = build_app()
