"""DBOS Transact peer benchmark (PostgreSQL system database; SQLite too for phases).

Settings: DBOS with its system database on PostgreSQL (schema created by
``DBOS.launch()``'s own migrations), default pool sizes, LISTEN/NOTIFY on (default).

- steps: ``@DBOS.workflow()``s called directly (synchronously) in-process: one with
  STEPS_PER_WORKFLOW no-op ``@DBOS.step()``s and one with none, run alternately.
- throughput: workflows on a database-backed queue (``DBOS.register_queue``); enqueued
  from ``DBOSClient`` in transactions of ENQUEUE_CHUNK (``enqueue_in_transaction``,
  DBOS's nearest thing to a batch enqueue), then drained by the in-process executor.
  The queue is parked with ``worker_concurrency=0`` during the enqueue and opened
  afterwards (queue settings are re-read on every poll).
- latency: ``DBOSClient.enqueue`` from the producer to a queue served by a separately
  launched DBOS process. DBOS queues are polled, so this runs at the default
  ``polling_interval_sec`` and at a tuned short one.
- phases: a workflow of PHASES_PER_WORKFLOW no-op ``@DBOS.step()``s, called directly
  through DBOS's synchronous API (DBOS's usual way: workflows are plain functions), on
  both system databases DBOS supports: PostgreSQL and SQLite (a file,
  ``system_database_url="sqlite:///..."``, DBOS's default journal settings; DBOS
  documents it for development and testing). ``sequential``: one run after another,
  alternating with a 0-step workflow as in ``steps``; ``concurrent``: a
  ``ThreadPoolExecutor`` of PHASES_CONCURRENCY threads each calling the workflow
  (DBOS's alternative, a queue with ``worker_concurrency``, would add its polling
  interval to every run). Each (backend, mode) gets a fresh system database.

Run with the peers venv's python:
``bench/.venv-peers/bin/python bench/peers/dbos_bench.py --workload steps``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

import common
import psycopg
import sqlalchemy
from dbos import DBOS, DBOSClient, DBOSConfig, EnqueueOptions

SYSTEM = "dbos"
VERSION = version("dbos")
DATABASE = "coord_bench_dbos"
APP_NAME = "coord_bench"
QUEUE = "bench"
ENQUEUE_CHUNK = 1_000
STEPS_WARMUP_RUNS = 10
DEFAULT_POLLING_INTERVAL_S = 1.0
#: Tuned queue polling interval for the throughput run and the second latency run.
FAST_POLLING_INTERVAL_S = 0.01
#: Where the latency workflow writes its samples (set in the worker process).
_SAMPLES: dict[str, str] = {}


@DBOS.step()
def noop_step() -> None:
    """A step that does nothing: what remains is DBOS's per-step bookkeeping."""


@DBOS.workflow(name="ten_steps")
def ten_steps() -> None:
    """Workflow with STEPS_PER_WORKFLOW no-op steps."""
    for _ in range(common.STEPS_PER_WORKFLOW):
        noop_step()


@DBOS.workflow(name="zero_steps")
def zero_steps() -> None:
    """Workflow with no steps: the baseline workflow cost."""


@DBOS.step()
def phase_step(index: int) -> int:
    """A phase of the ``phases`` workflow: does nothing, returns its index."""
    return index


@DBOS.workflow(name="phases")
def phases_workflow() -> int:
    """Linear workflow of PHASES_PER_WORKFLOW no-op steps; returns the last index."""
    last = -1
    for index in range(common.PHASES_PER_WORKFLOW):
        last = phase_step(index)
    return last


@DBOS.workflow(name="noop")
def noop() -> None:
    """The no-op workflow of the throughput workload."""


@DBOS.workflow(name="measure")
def measure(seq: int, enqueued_at: float) -> None:
    """Latency workflow: record enqueue-to-start latency."""
    common.record_latency(_SAMPLES["path"], seq, enqueued_at)


def launch(dsn: str) -> None:
    """Configure and launch DBOS in this process (runs its system-database migrations)."""
    config: DBOSConfig = {
        "name": APP_NAME,
        "system_database_url": dsn,
        "log_level": "WARNING",
        "application_version": f"coord-bench-{VERSION}",
    }
    DBOS(config=config)
    DBOS.launch()


def client(dsn: str) -> DBOSClient:
    """A DBOS client (no workflow code, talks only to the system database)."""
    return DBOSClient(system_database_url=dsn, application_name=APP_NAME)


def steps(dsn: str, n: int) -> dict[str, Any]:
    """Mean time of the 10-step workflow minus the 0-step one, per step."""
    launch(dsn)
    try:
        common.checkpoint(dsn)
        for _ in range(STEPS_WARMUP_RUNS):
            ten_steps()
            zero_steps()
        with_steps: list[float] = []
        without_steps: list[float] = []
        for _ in range(n):
            start = time.perf_counter()
            ten_steps()
            with_steps.append(time.perf_counter() - start)
            start = time.perf_counter()
            zero_steps()
            without_steps.append(time.perf_counter() - start)
    finally:
        DBOS.destroy(destroy_registry=False)
    mean_steps = sum(with_steps) / n
    mean_zero = sum(without_steps) / n
    return {
        "step_overhead_us": round((mean_steps - mean_zero) / common.STEPS_PER_WORKFLOW * 1e6, 1),
        "workflow_10_steps_ms": round(mean_steps * 1000, 3),
        "workflow_0_steps_ms": round(mean_zero * 1000, 3),
        "notes": (
            f"in-process synchronous workflow calls, alternating 10-step/0-step, "
            f"{STEPS_WARMUP_RUNS} untimed warm-up runs of each"
        ),
    }


@contextlib.contextmanager
def phases_database(backend: str) -> Iterator[str]:
    """A fresh system database URL for one phases run: a throwaway PostgreSQL
    database, or an SQLite file in a temporary directory."""
    if backend == "postgres":
        with common.temp_database(DATABASE) as dsn:
            yield dsn
        return
    with tempfile.TemporaryDirectory(prefix="coord-bench-dbos-") as folder:
        yield f"sqlite:///{folder}/dbos_system.sqlite"


def _timed_phases_run() -> float:
    """Run the phases workflow once; its wall time in seconds."""
    start = time.perf_counter()
    last = phases_workflow()
    elapsed = time.perf_counter() - start
    if last != common.PHASES_PER_WORKFLOW - 1:
        raise RuntimeError(f"phases workflow returned {last!r}")
    return elapsed


def phases(url: str, backend: str, mode: str, n: int) -> dict[str, Any]:
    """``n`` runs of the 10-step workflow, one at a time or PHASES_CONCURRENCY at a time."""
    launch(url)
    warmup = common.PHASES_WARMUP_RUNS
    try:
        if mode == "sequential":
            for _ in range(warmup):
                phases_workflow()
                zero_steps()
            if backend == "postgres":
                common.checkpoint(url)
            runs: list[float] = []
            empty: list[float] = []
            for _ in range(n):
                runs.append(_timed_phases_run())
                start = time.perf_counter()
                zero_steps()
                empty.append(time.perf_counter() - start)
            mean_run, mean_empty = sum(runs) / n, sum(empty) / n
            fields = common.phases_summary(runs)
            fields["per_step_us_minus_empty"] = round(
                (mean_run - mean_empty) / common.PHASES_PER_WORKFLOW * 1e6, 1
            )
            fields["empty_run_ms_mean"] = round(mean_empty * 1000, 3)
            how = (
                "one run at a time, alternating with a 0-step workflow; "
                f"{warmup} untimed warm-up runs of each"
            )
        else:
            with ThreadPoolExecutor(max_workers=common.PHASES_CONCURRENCY) as pool:
                list(pool.map(lambda _: _timed_phases_run(), range(warmup)))
                if backend == "postgres":
                    common.checkpoint(url)
                start = time.perf_counter()
                runs = list(pool.map(lambda _: _timed_phases_run(), range(n)))
                elapsed = time.perf_counter() - start
            fields = common.phases_summary(runs, elapsed)
            how = (
                f"ThreadPoolExecutor({common.PHASES_CONCURRENCY}) calling the workflow, "
                f"{warmup} untimed warm-up runs through the pool"
            )
    finally:
        DBOS.destroy(destroy_registry=False)
    database = (
        "PostgreSQL system database"
        if backend == "postgres"
        else "SQLite system database file (DBOS defaults: rollback journal)"
    )
    fields["notes"] = (
        f"synchronous @DBOS.workflow of {common.PHASES_PER_WORKFLOW} no-op @DBOS.step()s "
        f"called in-process; {how}; {database}"
    )
    return fields


def _count_finished(dsn: str) -> tuple[int, float]:
    """(number of successful ``noop`` workflows, their latest ``updated_at`` in epoch s)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(max(updated_at), 0) FROM dbos.workflow_status "
            "WHERE queue_name = %s AND status = 'SUCCESS'",
            (QUEUE,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]) / 1000


def throughput(dsn: str, n: int) -> dict[str, Any]:
    """Enqueue ``n`` no-op workflows in transactions, then drain them in-process."""
    launch(dsn)
    # enqueue_in_transaction runs in caller-owned transactions on the system database;
    # the client is given the same engine.
    engine = sqlalchemy.create_engine(dsn.replace("postgresql://", "postgresql+psycopg://"))
    dbos_client = DBOSClient(system_database_engine=engine, application_name=APP_NAME)
    try:
        queue = DBOS.register_queue(
            QUEUE, worker_concurrency=0, polling_interval_sec=FAST_POLLING_INTERVAL_S
        )
        options: EnqueueOptions = {"queue_name": QUEUE, "workflow_name": "noop"}
        common.checkpoint(dsn)
        start = time.time()
        for offset in range(0, n, ENQUEUE_CHUNK):
            with engine.begin() as conn:
                for _ in range(min(ENQUEUE_CHUNK, n - offset)):
                    dbos_client.enqueue_in_transaction(conn, options)
        enqueued = time.time()
        common.analyze(dsn, "dbos.workflow_status")
        queue.set_worker_concurrency(None)
        unparked = time.time()
        done, drained = 0, 0.0
        deadline = time.monotonic() + common.DRAIN_TIMEOUT_S
        while done < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {done} of {n} workflows finished")
            time.sleep(0.1)
            done, drained = _count_finished(dsn)
    finally:
        engine.dispose()
        dbos_client.destroy()
        DBOS.destroy(destroy_registry=False)
    return {
        "tasks_per_s": common.rate(n, drained - start),
        "enqueue_per_s": common.rate(n, enqueued - start),
        "drain_per_s": common.rate(n, drained - unparked),
        "notes": (
            f"DBOSClient.enqueue_in_transaction, {ENQUEUE_CHUNK} workflows per transaction; "
            "in-process DBOS executor, queue unparked after enqueue (worker_concurrency "
            f"0 -> unlimited), polling_interval_sec={FAST_POLLING_INTERVAL_S}; end = latest "
            "workflow_status.updated_at (ms resolution); ANALYZE after enqueue"
        ),
    }


def latency_worker(dsn: str, samples: str, polling_interval_s: float) -> None:
    """Idle DBOS process serving the latency queue until terminated."""
    _SAMPLES["path"] = samples
    launch(dsn)
    DBOS.register_queue(QUEUE, polling_interval_sec=polling_interval_s, on_conflict="always_update")
    stop = threading.Event()
    try:
        stop.wait()
    finally:
        DBOS.destroy(destroy_registry=False)


def latency(dsn: str, n: int, polling_interval_s: float) -> dict[str, Any]:
    """Enqueue one workflow every 20 ms from a DBOSClient to a separate DBOS process."""
    # The worker process runs the migrations; the client needs them done first.
    launch(dsn)
    DBOS.register_queue(QUEUE, polling_interval_sec=polling_interval_s)
    DBOS.destroy(destroy_registry=False)
    with tempfile.TemporaryDirectory() as tmp:
        samples = common.SampleFile(Path(tmp) / "samples.txt")
        cmd = common.self_worker_cmd(
            Path(__file__).name,
            "latency",
            dsn,
            str(samples.path),
            "--polling-interval",
            str(polling_interval_s),
        )
        proc = common.spawn(cmd)
        dbos_client = client(dsn)
        try:
            options: EnqueueOptions = {"queue_name": QUEUE, "workflow_name": "measure"}

            def enqueue(seq: int, enqueued_at: float) -> None:
                dbos_client.enqueue(options, seq, enqueued_at)

            common.wait_until_worker_ready(enqueue, samples)
            common.checkpoint(dsn)
            common.run_paced_producer(n, enqueue)
            count, summary = common.collect_latency(samples, n)
        finally:
            dbos_client.destroy()
            common.stop(proc)
    default = " (default)" if polling_interval_s == DEFAULT_POLLING_INTERVAL_S else ""
    return {
        "variant": f"poll {polling_interval_s}s",
        "n": count,
        **summary,
        "notes": (
            "DBOSClient.enqueue from the producer; 1 launched DBOS worker subprocess; "
            f"queue polling_interval_sec={polling_interval_s}{default}"
        ),
    }


def main() -> int:
    """Entry point: run one workload and print its JSON result line(s)."""

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--polling-interval",
            type=float,
            default=DEFAULT_POLLING_INTERVAL_S,
            help=argparse.SUPPRESS,
        )

    args = common.parse_args(__doc__ or "", configure=configure, workloads=common.WORKLOADS)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.role == "worker":
        latency_worker(args.dsn, args.samples, args.polling_interval)
        return 0
    n = common.workload_size(args.workload, args.short)
    if args.workload == "phases":
        for backend in ("postgres", "sqlite"):
            for mode in ("sequential", "concurrent"):
                with phases_database(backend) as url:
                    fields = phases(url, backend, mode, n)
                common.emit(
                    common.result(SYSTEM, VERSION, backend, "phases", {"mode": mode} | fields)
                )
        return 0
    if args.workload == "latency":
        for interval in (DEFAULT_POLLING_INTERVAL_S, FAST_POLLING_INTERVAL_S):
            with common.temp_database(DATABASE) as dsn:
                fields = latency(dsn, n, interval)
            common.emit(common.result(SYSTEM, VERSION, "postgres", "latency", fields))
        return 0
    with common.temp_database(DATABASE) as dsn:
        fields = steps(dsn, n) if args.workload == "steps" else throughput(dsn, n)
    common.emit(common.result(SYSTEM, VERSION, "postgres", args.workload, {"n": n} | fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
