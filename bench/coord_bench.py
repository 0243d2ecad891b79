"""coord's side of the benchmarks: the same workloads as the peers (``bench/peers/``).

    python bench/coord_bench.py --workload {throughput,latency,steps}
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

Prints one JSON line per result (the format of ``bench/peers/common.py``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
import common

import coord
from coord.app import connect

SYSTEM = "coord"
BATCH = 1000
THROUGHPUT_CONCURRENCY = 500
LATENCY_CONCURRENCY = 10


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


def main() -> int:
    """Run one workload on one backend and print its result line."""
    args = common.parse_args(
        __doc__.splitlines()[0],
        configure=lambda p: p.add_argument(
            "--backend", choices=("sqlite", "postgres"), default="postgres"
        ),
    )
    if args.role == "worker":
        latency_worker(args.dsn, args.samples)
        return 0
    n = common.workload_size(args.workload, args.short)
    os.environ.setdefault("COORD_LOG_LEVEL", "WARNING")
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
