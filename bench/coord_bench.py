"""coord's side of the benchmarks: the same workloads as the peers (``bench/peers/``).

    python bench/coord_bench.py --workload {throughput,latency,steps,phases}
                                --backend {sqlite,postgres} [--short]

- throughput: N no-op tasks enqueued in batches of 1,000 (``enqueue_many``), then
  drained by an in-process worker (burst mode); tasks/s from the first enqueue to the
  last completion. Every task still writes its three events (enqueued, started,
  succeeded) in the same transactions as its state changes.
- latency: a worker process waits idle; a producer enqueues one task every 20 ms; the
  handler records ``time.time() - enqueued_at`` (PostgreSQL: LISTEN/NOTIFY wake-up;
  SQLite: the file watcher).
- steps: a task with 10 no-op memoized steps (``await ctx.step``), run N times one
  after the other; each handler times its steps, per-step overhead = mean / 10. Each
  step is one fenced INSERT committed before the step returns.
- phases: a workflow of 10 phases in a line (``phase_0 -> ... -> phase_9``), each a
  no-op async task returning its index; each phase's outcome and the next phase's
  enqueue commit in one transaction. ``sequential``: N runs one after the other;
  ``concurrent``: N runs, PHASES_CONCURRENCY in flight (a thread pool calling the
  same timed function); 10 untimed warm-up runs before each. A run is timed from
  ``app.runs.start`` until ``app.result(last task)`` has read the last phase's task as
  succeeded from the database: that outcome and the run's ``succeeded`` state are one
  transaction. The last phase's handler hands its task id to the starter (an
  in-process dict, or a FIFO from a worker process) so that the starter can wait on
  it (woken by LISTEN/NOTIFY on PostgreSQL, by in-process signals on SQLite). After
  the timed runs every run is read back: state ``succeeded``, ``phase_9`` result 9,
  and (the database on this machine) ``finished_at`` no later than the moment its
  clock stopped. Main rows: the worker runs
  in the starter's process, on its own thread and event loop (as DBOS and LangGraph
  run in-process). On PostgreSQL also ``variant: worker process``: the worker is a
  separate process (how coord is deployed). A fresh database per mode and variant.

Prints one JSON line per result (the format of ``bench/peers/common.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
import common

import coord
from coord.app import connect
from coord.domain.runs import RunState

SYSTEM = "coord"
BATCH = 1000
THROUGHPUT_CONCURRENCY = 500
LATENCY_CONCURRENCY = 10
PHASES_WORKFLOW = "phases"
PHASES_QUEUE = "bench"
LAST_PHASE = common.PHASES_PER_WORKFLOW - 1
#: Longest one run may take (the first warm-up run also waits for the worker).
RUN_TIMEOUT_S = 60.0


def build_app(url: str, samples: str = "") -> coord.App:
    """The benchmark tasks."""
    app = coord.App(url)

    @app.task(queue="bench")
    async def noop(ctx: coord.Context) -> None:
        return None

    @app.task(queue="bench")
    async def timed(ctx: coord.Context, seq: int, enqueued_at: float) -> None:
        common.record_latency(samples, seq, enqueued_at)

    @app.task(queue="bench")
    async def ten_steps(ctx: coord.Context) -> float:
        started = time.perf_counter()
        for i in range(common.STEPS_PER_WORKFLOW):
            await ctx.step(f"step-{i}", _nothing)
        return time.perf_counter() - started

    return app


def _nothing() -> None:
    return None


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, migrated database for one run."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="coord-bench-") as folder:
            yield f"sqlite:///{folder}/coord.db"
        return
    with common.temp_database("coord_bench_coord") as dsn:
        store = connect(coord.App(dsn).settings, check_schema=False)
        store.upgrade()
        store.close()
        yield dsn


def throughput(url: str, backend: str, n: int) -> dict[str, Any]:
    """Enqueue n no-op tasks in batches, then drain them with one worker."""
    app = build_app(url)
    app.store  # connect and register before the clock starts  # noqa: B018
    if backend == "postgres":
        common.checkpoint(url)
    started = time.perf_counter()
    for offset in range(0, n, BATCH):
        app.enqueue_many("noop", [{}] * min(BATCH, n - offset))
    enqueued = time.perf_counter()
    if backend == "postgres":  # as for every PostgreSQL peer (see bench/README.md)
        common.analyze(url, "coord_tasks")
    analyzed = time.perf_counter()
    stats = app.run_worker(burst=True, concurrency=THROUGHPUT_CONCURRENCY)
    drained = time.perf_counter()
    app.close()
    if stats.succeeded != n:
        raise RuntimeError(f"drained {stats.succeeded} of {n} tasks")
    return {
        "n": n,
        "tasks_per_s": common.rate(n, drained - started),
        "enqueue_per_s": common.rate(n, enqueued - started),
        "drain_per_s": common.rate(n, drained - analyzed),
        "notes": f"enqueue_many x{BATCH}, 1 in-process worker, concurrency "
        f"{THROUGHPUT_CONCURRENCY}, 3 events per task",
    }


def latency(url: str, n: int) -> dict[str, Any]:
    """Paced producer here, idle worker in another process."""
    with tempfile.TemporaryDirectory(prefix="coord-latency-") as folder:
        samples = common.SampleFile(Path(folder) / "samples.txt")
        app = build_app(url, str(samples.path))
        app.store  # noqa: B018
        worker = common.spawn(
            [
                sys.executable,
                __file__,
                "--workload",
                "latency",
                "--role",
                "worker",
                "--dsn",
                url,
                "--samples",
                str(samples.path),
            ],
            env={"COORD_LOG_LEVEL": "WARNING"},
        )
        try:

            def enqueue(seq: int, enqueued_at: float) -> None:
                app.enqueue("timed", {"seq": seq, "enqueued_at": enqueued_at})

            common.wait_until_worker_ready(enqueue, samples)
            common.run_paced_producer(n, enqueue)
            count, summary = common.collect_latency(samples, n)
        finally:
            common.stop(worker)
            app.close()
    return {"n": count, **summary, "notes": f"worker process, concurrency {LATENCY_CONCURRENCY}"}


def latency_worker(url: str, samples: str) -> None:
    """The worker process of the latency workload (stops on SIGTERM)."""
    build_app(url, samples).run_worker(concurrency=LATENCY_CONCURRENCY)


def steps(url: str, n: int) -> dict[str, Any]:
    """n tasks of 10 memoized steps, one at a time; each times its own steps."""
    app = build_app(url)
    handles = app.enqueue_many("ten_steps", [{}] * (n + 5))
    app.run_worker(burst=True, concurrency=1)
    timings = [h.result(timeout=10) for h in handles][5:]  # the first 5 warm up
    app.close()
    mean = sum(timings) / len(timings)
    return {
        "n": n,
        "step_overhead_us": round(mean / common.STEPS_PER_WORKFLOW * 1e6, 1),
        "task_10_steps_ms": round(mean * 1000, 3),
        "notes": "async handler, sequential tasks, each step a fenced INSERT + commit",
    }


# ------------------------------------------------------------------------ phases


class LastPhases:
    """Run id -> id of the task of the run's last phase, published by that task's
    handler, so that the starter knows which task to wait on."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}
        self._changed = threading.Condition()

    def publish(self, run_id: str, task_id: str) -> None:
        """Called by the last phase's handler (any thread)."""
        with self._changed:
            self._ids[run_id] = task_id
            self._changed.notify_all()

    def take(self, run_id: str, timeout_s: float) -> str:
        """Wait until ``run_id``'s last phase has started; its task id."""
        with self._changed:
            if not self._changed.wait_for(lambda: run_id in self._ids, timeout_s):
                raise TimeoutError(f"run {run_id}: its last phase did not start in {timeout_s}s")
            return self._ids.pop(run_id)


def build_phases_app(url: str, publish: Callable[[str, str], None]) -> coord.App:
    """The 10-phase linear workflow of no-op tasks; the last one calls ``publish``."""
    app = coord.App(url)

    @app.task(queue=PHASES_QUEUE)
    async def bench_phase(ctx: coord.Context, index: int) -> int:
        if index == LAST_PHASE:
            assert ctx.run_id is not None
            publish(ctx.run_id, ctx.task_id)
        return index

    workflow = app.workflow(PHASES_WORKFLOW)
    for index in range(common.PHASES_PER_WORKFLOW):
        after = [f"phase_{index - 1}"] if index else []
        workflow.phase(f"phase_{index}", task=bench_phase, after=after, params={"index": index})
    return app


class WorkerThread:
    """A coord worker on its own thread and event loop, in this process."""

    def __init__(self, app: coord.App) -> None:
        self.worker = app.worker(queues=[PHASES_QUEUE], concurrency=common.PHASES_CONCURRENCY)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="bench-worker", daemon=True)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._started.set()
        try:
            loop.run_until_complete(self.worker.run())
        except BaseException as exc:  # reported by stop()
            self._error = exc
        finally:
            loop.close()

    def __enter__(self) -> WorkerThread:
        self._thread.start()
        self._started.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.worker.stop)
        self._thread.join(timeout=60)
        if self._error is not None:
            raise RuntimeError("the benchmark worker failed") from self._error


class FifoReader:
    """Reads ``"<run id> <task id>"`` lines from the worker process's last phases."""

    def __init__(self, path: Path, last: LastPhases) -> None:
        os.mkfifo(path)
        self.path = path
        self._last = last
        self._thread = threading.Thread(target=self._read, name="bench-fifo", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with self.path.open("rb", buffering=0) as fifo:  # waits for the worker to open it
            pending = b""
            while chunk := fifo.read(4096):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    run_id, task_id = line.decode().split()
                    self._last.publish(run_id, task_id)


def phases_worker(url: str, fifo: str) -> None:
    """The worker process of the ``worker process`` variant (stops on SIGTERM)."""
    fd = os.open(fifo, os.O_WRONLY)  # waits for the reader

    def publish(run_id: str, task_id: str) -> None:
        os.write(fd, f"{run_id} {task_id}\n".encode())  # one write < PIPE_BUF: atomic

    app = build_phases_app(url, publish)
    app.run_worker(queues=[PHASES_QUEUE], concurrency=common.PHASES_CONCURRENCY)


@contextmanager
def phases_worker_process(url: str, last: LastPhases) -> Iterator[None]:
    """A ``coord_bench.py --role worker`` process feeding ``last`` through a FIFO."""
    with tempfile.TemporaryDirectory(prefix="coord-phases-") as folder:
        reader = FifoReader(Path(folder) / "last-phases", last)
        worker = common.spawn(
            [
                sys.executable,
                __file__,
                "--workload",
                "phases",
                "--role",
                "worker",
                "--dsn",
                url,
                "--samples",
                str(reader.path),
            ],
            env={"COORD_LOG_LEVEL": "WARNING"},
        )
        try:
            yield
        finally:
            common.stop(worker)


def _timed_run(app: coord.App, last: LastPhases) -> tuple[float, str, float]:
    """One run from ``start_run`` until its last phase's task is read back as
    succeeded: (seconds, run id, wall-clock end)."""
    start = time.perf_counter()
    run_id = app.runs.start(PHASES_WORKFLOW).id
    task_id = last.take(run_id, RUN_TIMEOUT_S)
    result = app.result(task_id, timeout=RUN_TIMEOUT_S)
    elapsed = time.perf_counter() - start
    ended = time.time()
    if result != LAST_PHASE:
        raise RuntimeError(f"run {run_id}: last phase returned {result!r}")
    return elapsed, run_id, ended


def _check_runs(app: coord.App, runs: list[tuple[float, str, float]], same_clock: bool) -> None:
    """Every timed run is stored as succeeded; with ``same_clock`` (SQLite, or a
    PostgreSQL server on this machine) also finished before its clock stopped."""
    for _, run_id, ended in runs:
        run = app.runs.get(run_id)
        result = run.phase(f"phase_{LAST_PHASE}").result
        if run.state is not RunState.SUCCEEDED or result != LAST_PHASE:
            raise RuntimeError(f"run {run_id} is {run.state} ({result!r}) after its timed wait")
        finished = run.finished_at.timestamp() if isinstance(run.finished_at, datetime) else None
        if finished is None:
            raise RuntimeError(f"run {run_id} succeeded without a finish time")
        if same_clock and finished > ended + 0.001:  # 1 ms of slack for rounding
            raise RuntimeError(f"run {run_id} finished at {finished}, after its clock stopped")


def phases(url: str, backend: str, mode: str, n: int, worker: str) -> dict[str, Any]:
    """``n`` runs of the 10-phase workflow, one at a time or PHASES_CONCURRENCY at a
    time, with an in-process worker thread (``worker="thread"``) or a worker process."""
    last = LastPhases()
    app = build_phases_app(url, last.publish)
    app.store  # connect and register before the clock starts  # noqa: B018
    warmup = common.PHASES_WARMUP_RUNS
    runner = WorkerThread(app) if worker == "thread" else phases_worker_process(url, last)
    try:
        with runner:
            if mode == "sequential":
                for _ in range(warmup):
                    _timed_run(app, last)
                if backend == "postgres":
                    common.checkpoint(url)
                runs = [_timed_run(app, last) for _ in range(n)]
                fields = common.phases_summary([r[0] for r in runs])
                how = f"one run at a time, {warmup} untimed warm-up runs"
            else:
                with ThreadPoolExecutor(max_workers=common.PHASES_CONCURRENCY) as pool:
                    list(pool.map(lambda _: _timed_run(app, last), range(warmup)))
                    if backend == "postgres":
                        common.checkpoint(url)
                    start = time.perf_counter()
                    runs = list(pool.map(lambda _: _timed_run(app, last), range(n)))
                    elapsed = time.perf_counter() - start
                fields = common.phases_summary([r[0] for r in runs], elapsed)
                how = (
                    f"ThreadPoolExecutor({common.PHASES_CONCURRENCY}) starting and waiting "
                    f"for runs, {warmup} untimed warm-up runs through the pool"
                )
        local = backend == "sqlite" or any(h in url for h in ("@127.0.0.1", "@localhost"))
        _check_runs(app, runs, same_clock=local)
    finally:
        app.close()
    where = (
        "in-process worker (own thread and event loop)"
        if worker == "thread"
        else "worker in a separate process"
    )
    fields["notes"] = (
        f"{common.PHASES_PER_WORKFLOW} linear phases of a no-op async task; {where}, "
        f"concurrency {common.PHASES_CONCURRENCY}; {how}; each run from start_run until "
        "app.result(last phase's task) read it succeeded (same transaction as the run's "
        "succeeded state); all runs checked afterwards"
    )
    return fields


def main() -> int:
    """Run one workload on one backend and print its result line."""

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--backend", choices=("sqlite", "postgres"), default="postgres")

    args = common.parse_args(
        __doc__.splitlines()[0], configure=configure, workloads=common.WORKLOADS
    )
    if args.role == "worker":
        if args.workload == "phases":
            phases_worker(args.dsn, args.samples)
        else:
            latency_worker(args.dsn, args.samples)
        return 0
    n = common.workload_size(args.workload, args.short)
    os.environ.setdefault("COORD_LOG_LEVEL", "WARNING")
    if args.workload == "phases":
        variants: list[tuple[str, str | None]] = [("thread", None)]
        if args.backend == "postgres":
            variants.append(("process", "worker process"))
        for worker, variant in variants:
            for mode in ("sequential", "concurrent"):
                with database(args.backend) as url:
                    fields = phases(url, args.backend, mode, n, worker)
                head: dict[str, Any] = {"mode": mode}
                if variant is not None:
                    head["variant"] = variant
                common.emit(
                    common.result(SYSTEM, coord.__version__, args.backend, "phases", head | fields)
                )
        return 0
    with database(args.backend) as url:
        if args.workload == "throughput":
            fields = throughput(url, args.backend, n)
        elif args.workload == "latency":
            fields = latency(url, n)
        else:
            fields = steps(url, n)
    common.emit(common.result(SYSTEM, coord.__version__, args.backend, args.workload, fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
