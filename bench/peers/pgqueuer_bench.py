"""PgQueuer peer benchmark (PostgreSQL, asyncpg driver).

Settings: the asyncpg driver (PgQueuer's faster one, per its own benchmark docs),
batch enqueue through ``Queries.enqueue`` with lists, and one ``QueueManager`` per
worker process dequeuing in batches of DEQUEUE_BATCH_SIZE with no concurrency cap.

Run with the peers venv's python:
``bench/.venv-peers/bin/python bench/peers/pgqueuer_bench.py --workload throughput``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
import common
from pgqueuer import AsyncpgDriver, Job, Queries, QueueManager
from pgqueuer.domain.types import QueueExecutionMode

SYSTEM = "pgqueuer"
VERSION = version("pgqueuer")
DATABASE = "coord_bench_pgqueuer"
ENTRYPOINT = "noop"
ENQUEUE_CHUNK = 1_000
DEQUEUE_BATCH_SIZE = 100


async def install_schema(dsn: str) -> None:
    """Install PgQueuer's tables, triggers and functions with its own installer."""
    conn = await asyncpg.connect(dsn)
    try:
        await Queries(AsyncpgDriver(conn)).install()
    finally:
        await conn.close()


async def throughput(dsn: str, n: int) -> dict[str, Any]:
    """Batch-enqueue ``n`` no-op jobs, then drain them with an in-process QueueManager."""
    producer = await asyncpg.connect(dsn)
    worker = await asyncpg.connect(dsn)
    queries = Queries(AsyncpgDriver(producer))
    qm = QueueManager(Queries(AsyncpgDriver(worker)))
    done = 0

    @qm.entrypoint(ENTRYPOINT)
    async def noop(job: Job) -> None:
        nonlocal done
        done += 1

    try:
        await asyncio.to_thread(common.checkpoint, dsn)
        start = time.perf_counter()
        for offset in range(0, n, ENQUEUE_CHUNK):
            size = min(ENQUEUE_CHUNK, n - offset)
            await queries.enqueue([ENTRYPOINT] * size, [None] * size, [0] * size)
        enqueued = time.perf_counter()
        await asyncio.to_thread(common.analyze, dsn, "pgqueuer")
        analyzed = time.perf_counter()
        # Drain mode returns once the queue is empty and the completion log is flushed.
        await qm.run(
            mode=QueueExecutionMode.drain,
            batch_size=DEQUEUE_BATCH_SIZE,
            dequeue_timeout=timedelta(seconds=1),
        )
        drained = time.perf_counter()
    finally:
        await producer.close()
        if not worker.is_closed():
            await worker.close()
    if done != n:
        raise RuntimeError(f"handler ran {done} times, expected {n}")
    return {
        "tasks_per_s": common.rate(n, drained - start),
        "enqueue_per_s": common.rate(n, enqueued - start),
        "drain_per_s": common.rate(n, drained - analyzed),
        "notes": (
            f"asyncpg driver; Queries.enqueue with lists, {ENQUEUE_CHUNK} jobs per call; "
            f"1 in-process QueueManager, batch_size={DEQUEUE_BATCH_SIZE}, mode=drain "
            "(end = drain returned, completion log flushed); ANALYZE after enqueue"
        ),
    }


async def latency_worker(dsn: str, samples: str) -> None:
    """Idle worker process for the latency workload: records enqueue-to-start latency."""
    conn = await asyncpg.connect(dsn)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))

    @qm.entrypoint(ENTRYPOINT)
    async def measure(job: Job) -> None:
        payload = json.loads(job.payload or b"{}")
        common.record_latency(samples, payload["seq"], payload["enqueued_at"])

    await qm.run(batch_size=DEQUEUE_BATCH_SIZE)


async def latency(dsn: str, n: int) -> dict[str, Any]:
    """Enqueue one job every 20 ms to an idle worker subprocess; summarise the latency."""
    with tempfile.TemporaryDirectory() as tmp:
        samples = common.SampleFile(Path(tmp) / "samples.txt")
        proc = common.spawn(
            common.self_worker_cmd(Path(__file__).name, "latency", dsn, str(samples.path))
        )
        conn = await asyncpg.connect(dsn)
        queries = Queries(AsyncpgDriver(conn))
        try:

            async def enqueue(seq: int, enqueued_at: float) -> None:
                payload = json.dumps({"seq": seq, "enqueued_at": enqueued_at}).encode()
                await queries.enqueue(ENTRYPOINT, payload)

            await common.wait_until_worker_ready_async(enqueue, samples)
            await asyncio.to_thread(common.checkpoint, dsn)
            await common.run_paced_producer_async(n, enqueue)
            count, summary = common.collect_latency(samples, n)
        finally:
            await conn.close()
            common.stop(proc)
    return {
        "n": count,
        **summary,
        "notes": (
            f"asyncpg driver; 1 QueueManager worker subprocess, "
            f"batch_size={DEQUEUE_BATCH_SIZE}, LISTEN/NOTIFY wake-up"
        ),
    }


async def run(workload: str, n: int) -> dict[str, Any]:
    """Run ``workload`` against a fresh database and return its result fields."""
    with common.temp_database(DATABASE) as dsn:
        await install_schema(dsn)
        if workload == "throughput":
            return await throughput(dsn, n)
        return await latency(dsn, n)


def main() -> int:
    """Entry point: run one workload and print its JSON result line."""
    args = common.parse_args(__doc__ or "")
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
