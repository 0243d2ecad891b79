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

The test process builds its own App on the same database with :func:`build_app` (the
task names and policies must match the workers').
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import coord

SINK_ENV = "CHAOS_SINK"
RELEASE_ENV = "CHAOS_RELEASE"
WORK = "chaos.work"
BEAT = "chaos.beat"
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

    return app


app = build_app()
