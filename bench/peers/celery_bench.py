"""Celery peer benchmark (Redis broker and Redis result backend).

Settings: Redis database BENCH_CELERY_REDIS_DB (flushed first) as broker and result
backend, JSON serializer, a worker subprocess started with the ``celery worker`` CLI
(prefork pool, ``--concurrency`` = number of cores, ``--without-gossip
--without-mingle --without-heartbeat``, prefetch multiplier PREFETCH_MULTIPLIER).
Celery has no bulk publish, so tasks are sent one by one with ``apply_async`` over
one held producer connection. The throughput workload is run twice: with results
stored in the Redis backend (the default, and Celery's only record that a task
finished) and with ``ignore_result=True`` (Celery's advice for unused results).

Run with the peers venv's python:
``bench/.venv-peers/bin/python bench/peers/celery_bench.py --workload throughput``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import common
import redis
from celery import Celery

SYSTEM = "celery"
VERSION = version("celery")
REDIS_DB = int(os.environ.get("BENCH_CELERY_REDIS_DB", "15"))
BROKER_URL = f"{common.REDIS_URL}/{REDIS_DB}"
QUEUE = "bench"
#: The idle throughput worker listens here until the measured drain starts.
PARKING_QUEUE = "parking"
CONCURRENCY = os.cpu_count() or 2
PREFETCH_MULTIPLIER = 16
RESULT_POLL_INTERVAL_S = 0.25

app = Celery("celery_bench", broker=BROKER_URL, backend=BROKER_URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue=QUEUE,
    worker_prefetch_multiplier=PREFETCH_MULTIPLIER,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="bench.noop")
def noop() -> None:
    """The no-op task of the throughput workload (its completion is in the result backend)."""


@app.task(name="bench.noop_untracked", ignore_result=True)
def noop_untracked() -> None:
    """No-op task for the ``ignore_result`` variant: appends its finish time to BENCH_DONE.

    Without a result there is no record of completion to wait for, so the task leaves
    one (a single small file append, a few microseconds).
    """
    common.record_finish(os.environ["BENCH_DONE"])


@app.task(name="bench.measure")
def measure(seq: int, enqueued_at: float) -> None:
    """Latency task: record enqueue-to-start latency in the file named by BENCH_SAMPLES."""
    common.record_latency(os.environ["BENCH_SAMPLES"], seq, enqueued_at)


def worker_cmd(queue: str) -> list[str]:
    """``celery worker`` command line for a worker consuming ``queue``."""
    return [
        sys.executable, "-m", "celery", "-A", "celery_bench", "worker",
        "--pool", "prefork", "--concurrency", str(CONCURRENCY),
        "--queues", queue, "--loglevel", "WARNING",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--hostname", f"bench-{os.getpid()}@%h",
    ]  # fmt: skip


def settings_note() -> str:
    """The worker settings, for the result line."""
    return (
        f"redis db {REDIS_DB} broker+result backend; celery worker subprocess, prefork "
        f"concurrency={CONCURRENCY}, prefetch_multiplier={PREFETCH_MULTIPLIER}, "
        "without gossip/mingle/heartbeat"
    )


def wait_for_worker(timeout_s: float = 60.0) -> str:
    """Ping until the worker answers; return its node name."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5)
        if replies:
            return str(next(iter(replies[0])))
    raise TimeoutError("celery worker did not answer a ping")


def finished_at(client: redis.Redis, task_ids: list[str]) -> float:
    """Wait until every task has a stored result; return the latest ``date_done``."""
    keys = [f"celery-task-meta-{task_id}" for task_id in task_ids]
    deadline = time.monotonic() + common.DRAIN_TIMEOUT_S
    while (stored := client.exists(*keys)) < len(keys):
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {stored} of {len(keys)} results after the drain timeout")
        time.sleep(RESULT_POLL_INTERVAL_S)
    latest = 0.0
    for offset in range(0, len(keys), 1_000):
        for raw in client.mget(keys[offset : offset + 1_000]):
            meta = app.backend.decode_result(raw)
            if meta["status"] != "SUCCESS":
                raise RuntimeError(f"task failed: {meta}")
            latest = max(latest, datetime.fromisoformat(meta["date_done"]).timestamp())
    return latest


def throughput(n: int, store_results: bool) -> dict[str, Any]:
    """Publish ``n`` no-op tasks, then let an already running, parked worker drain them.

    The worker starts consuming the benchmark queue (``add_consumer``) only once all
    tasks are published, so its start-up time is not measured. The end is the latest
    ``date_done`` in the result backend, or with ``store_results=False`` the latest
    finish time the tasks appended to a file.
    """
    client = redis.Redis.from_url(BROKER_URL)
    task = noop if store_results else noop_untracked
    with tempfile.TemporaryDirectory() as tmp:
        done = common.SampleFile(Path(tmp) / "done.txt")
        proc = common.spawn(worker_cmd(PARKING_QUEUE), env={"BENCH_DONE": str(done.path)})
        try:
            node = wait_for_worker()
            start = time.time()
            with app.producer_or_acquire() as producer:
                task_ids = [task.apply_async(producer=producer).id for _ in range(n)]
            enqueued = time.time()
            app.control.add_consumer(QUEUE, destination=[node], reply=True)
            if store_results:
                drained = finished_at(client, task_ids)
            else:
                drained = max(done.wait_for_lines(n, timeout_s=common.DRAIN_TIMEOUT_S))
        finally:
            common.stop(proc)
    variant = "results in redis backend" if store_results else "ignore_result=True"
    return {
        "variant": "results" if store_results else "ignore_result",
        "tasks_per_s": common.rate(n, drained - start),
        "enqueue_per_s": common.rate(n, enqueued - start),
        "drain_per_s": common.rate(n, drained - enqueued),
        "notes": (
            f"{variant}; apply_async one by one over one producer connection (no bulk "
            "publish); " + settings_note() + "; worker parked on another queue during enqueue"
        ),
    }


def latency(n: int) -> dict[str, Any]:
    """Publish one task every 20 ms to an idle worker subprocess; summarise the latency."""
    with tempfile.TemporaryDirectory() as tmp:
        samples = common.SampleFile(Path(tmp) / "samples.txt")
        proc = common.spawn(worker_cmd(QUEUE), env={"BENCH_SAMPLES": str(samples.path)})
        try:
            wait_for_worker()
            with app.producer_or_acquire() as producer:

                def enqueue(seq: int, enqueued_at: float) -> None:
                    measure.apply_async((seq, enqueued_at), producer=producer)

                common.wait_until_worker_ready(enqueue, samples)
                common.run_paced_producer(n, enqueue)
            count, summary = common.collect_latency(samples, n)
        finally:
            common.stop(proc)
    return {"n": count, **summary, "notes": "apply_async; " + settings_note()}


def main() -> int:
    """Entry point: run one workload and print its JSON result line."""
    args = common.parse_args(__doc__ or "")
    if args.workload == "steps":
        common.emit(
            common.skip_record(SYSTEM, VERSION, "redis", "steps", "no memoized workflow steps")
        )
        return 0
    n = common.workload_size(args.workload, args.short)
    runs: list[Callable[[], dict[str, Any]]] = (
        [lambda: throughput(n, store_results=True), lambda: throughput(n, store_results=False)]
        if args.workload == "throughput"
        else [lambda: latency(n)]
    )
    for run in runs:
        client = redis.Redis.from_url(BROKER_URL)
        client.flushdb()
        try:
            result = run()
        finally:
            client.flushdb()
        common.emit(common.result(SYSTEM, VERSION, "redis", args.workload, {"n": n} | result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
