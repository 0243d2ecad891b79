"""Procrastinate peer benchmark (PostgreSQL, psycopg 3 async connector).

Settings: ``PsycopgConnector`` (psycopg_pool), schema applied with
``SchemaManager.apply_schema_async``, enqueue with ``Task.batch_defer_async``,
async no-op tasks run by a worker with ``concurrency=WORKER_CONCURRENCY``,
LISTEN/NOTIFY on (the default) and completed jobs kept (the default ``delete_jobs``).

Run with the peers venv's python:
``bench/.venv-peers/bin/python bench/peers/procrastinate_bench.py --workload throughput``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import common
import procrastinate
from procrastinate.tasks import Task

SYSTEM = "procrastinate"
VERSION = version("procrastinate")
DATABASE = "coord_bench_procrastinate"
QUEUE = "bench"
ENQUEUE_CHUNK = 1_000
WORKER_CONCURRENCY = 10


@dataclass
class BenchApp:
    """A procrastinate App with the benchmark's two tasks."""

    app: procrastinate.App
    noop: Task[Any, Any, Any]  # the throughput no-op
    measure: Task[Any, Any, Any]  # records one latency sample
    done: list[int] = field(default_factory=lambda: [0])  # noop runs in this process


def build_app(dsn: str, samples: str = "") -> BenchApp:
    """App with the two benchmark tasks: ``noop`` and ``measure`` (latency sample)."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))
    done = [0]

    @app.task(name="noop", queue=QUEUE)
    async def noop() -> None:
        done[0] += 1

    @app.task(name="measure", queue=QUEUE)
    async def measure(seq: int, enqueued_at: float) -> None:
        common.record_latency(samples, seq, enqueued_at)

    return BenchApp(app, noop, measure, done)


def worker_options(wait: bool) -> dict[str, Any]:
    """Keyword arguments for ``App.run_worker_async``."""
    return {
        "queues": [QUEUE],
        "concurrency": WORKER_CONCURRENCY,
        "wait": wait,
        "install_signal_handlers": not wait,
    }


async def throughput(dsn: str, n: int) -> dict[str, Any]:
    """Batch-defer ``n`` no-op jobs, then drain them with an in-process worker (wait=False)."""
    bench = build_app(dsn)
    app, noop = bench.app, bench.noop
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        await asyncio.to_thread(common.checkpoint, dsn)
        start = time.perf_counter()
        for offset in range(0, n, ENQUEUE_CHUNK):
            size = min(ENQUEUE_CHUNK, n - offset)
            await noop.batch_defer_async(*({} for _ in range(size)))
        enqueued = time.perf_counter()
        await asyncio.to_thread(common.analyze, dsn, "procrastinate_jobs")
        analyzed = time.perf_counter()
        # wait=False: the worker returns once it has caught up with the queue.
        await app.run_worker_async(**worker_options(wait=False))
        drained = time.perf_counter()
    done = bench.done[0]
    if done != n:
        raise RuntimeError(f"handler ran {done} times, expected {n}")
    return {
        "tasks_per_s": common.rate(n, drained - start),
        "enqueue_per_s": common.rate(n, enqueued - start),
        "drain_per_s": common.rate(n, drained - analyzed),
        "notes": (
            f"batch_defer_async, {ENQUEUE_CHUNK} jobs per call; 1 in-process worker, "
            f"concurrency={WORKER_CONCURRENCY}, wait=False, async no-op task, "
            "delete_jobs=never (default); ANALYZE after enqueue"
        ),
    }


async def latency_worker(dsn: str, samples: str) -> None:
    """Idle worker process for the latency workload."""
    app = build_app(dsn, samples).app
    async with app.open_async():
        await app.run_worker_async(**worker_options(wait=True))


async def latency(dsn: str, n: int) -> dict[str, Any]:
    """Defer one job every 20 ms to an idle worker subprocess; summarise the latency."""
    bench = build_app(dsn)
    app, measure = bench.app, bench.measure
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        with tempfile.TemporaryDirectory() as tmp:
            samples = common.SampleFile(Path(tmp) / "samples.txt")
            proc = common.spawn(
                common.self_worker_cmd(Path(__file__).name, "latency", dsn, str(samples.path))
            )
            try:

                async def enqueue(seq: int, enqueued_at: float) -> None:
                    await measure.defer_async(seq=seq, enqueued_at=enqueued_at)

                await common.wait_until_worker_ready_async(enqueue, samples)
                await asyncio.to_thread(common.checkpoint, dsn)
                await common.run_paced_producer_async(n, enqueue)
                count, summary = common.collect_latency(samples, n)
            finally:
                common.stop(proc)
    return {
        "n": count,
        **summary,
        "notes": (
            f"defer_async; 1 worker subprocess, concurrency={WORKER_CONCURRENCY}, "
            "LISTEN/NOTIFY wake-up (default)"
        ),
    }


async def run(workload: str, n: int) -> dict[str, Any]:
    """Run ``workload`` against a fresh database and return its result fields."""
    with common.temp_database(DATABASE) as dsn:
        if workload == "throughput":
            return await throughput(dsn, n)
        return await latency(dsn, n)


def main() -> int:
    """Entry point: run one workload and print its JSON result line."""
    args = common.parse_args(__doc__ or "")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # It warns that the App lives in ``__main__``; harmless here, tasks are named.
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)
    if args.role == "worker":
        asyncio.run(latency_worker(args.dsn, args.samples))
        return 0
    if args.workload == "steps":
        common.emit(
            common.skip_record(SYSTEM, VERSION, "postgres", "steps", "no memoized workflow steps")
        )
        return 0
    n = common.workload_size(args.workload, args.short)
    result = asyncio.run(run(args.workload, n))
    common.emit(common.result(SYSTEM, VERSION, "postgres", args.workload, {"n": n} | result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
