"""Helpers shared by the peer benchmark scripts.

Everything here is standard library plus ``psycopg`` (installed in the peers venv):
command-line parsing, workload sizes, JSON result lines, percentiles, a throwaway
PostgreSQL database per run, a paced latency producer and the file the latency
handlers append their samples to.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORKLOADS = ("throughput", "latency", "steps", "phases")
#: What ``parse_args`` accepts unless a script says otherwise: the workloads every
#: queue peer script (and ``coord_bench.py``) handles. A script that implements
#: ``phases`` passes ``workloads=WORKLOADS``; the others reject ``--workload phases``
#: instead of silently running another workload under that name.
TASK_WORKLOADS = ("throughput", "latency", "steps")

#: (full size, --short size) per workload.
SIZES: dict[str, tuple[int, int]] = {
    "throughput": (10_000, 2_000),
    "latency": (500, 100),
    "steps": (200, 50),
    "phases": (200, 20),
}

#: Latency samples with a sequence number below this are warm-up and discarded.
WARMUP_SAMPLES = 10
#: The latency producer enqueues one task per interval.
LATENCY_INTERVAL_S = 0.020
#: Number of no-op steps in the "steps" workflow.
STEPS_PER_WORKFLOW = 10
#: Number of no-op steps (nodes) in the linear workflow of the "phases" workload.
PHASES_PER_WORKFLOW = 10
#: Workflows in flight at a time in the concurrent part of "phases".
PHASES_CONCURRENCY = 8
#: Untimed runs before each timed part of "phases".
PHASES_WARMUP_RUNS = 10
#: Longest a throughput drain may take before the run is declared failed.
DRAIN_TIMEOUT_S = 600.0

PG_SERVER_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")

PEERS_DIR = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- CLI


def parse_args(
    description: str,
    argv: Sequence[str] | None = None,
    configure: Callable[[argparse.ArgumentParser], None] | None = None,
    workloads: Sequence[str] = TASK_WORKLOADS,
) -> argparse.Namespace:
    """Parse the common peer-script command line.

    ``--role``, ``--dsn`` and ``--samples`` are internal: scripts re-launch themselves
    with ``--role worker`` to get a worker process separate from the producer.
    ``configure`` may add script-specific (internal) options; ``workloads`` are the
    accepted ``--workload`` values.
    """
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workload", choices=workloads, required=True)
    parser.add_argument("--short", action="store_true", help="smaller sizes, for smoke tests")
    parser.add_argument(
        "--role", choices=("main", "worker"), default="main", help=argparse.SUPPRESS
    )
    parser.add_argument("--dsn", default="", help=argparse.SUPPRESS)
    parser.add_argument("--samples", default="", help=argparse.SUPPRESS)
    if configure is not None:
        configure(parser)
    return parser.parse_args(argv)


def workload_size(workload: str, short: bool) -> int:
    """Number of tasks (or workflow runs) for ``workload``."""
    full, small = SIZES[workload]
    return small if short else full


# ------------------------------------------------------------------------ output


def log(message: str) -> None:
    """Write a progress message to stderr (stdout is reserved for JSON result lines)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def emit(record: dict[str, Any]) -> None:
    """Print one result as a single JSON line on stdout."""
    print(json.dumps(record, sort_keys=False), flush=True)


def rate(count: int, seconds: float) -> float:
    """``count / seconds`` rounded for display (0 when no time elapsed)."""
    return round(count / seconds, 1) if seconds > 0 else 0.0


def percentile(sorted_samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted samples."""
    if not sorted_samples:
        raise ValueError("no samples")
    rank = max(1, math.ceil(pct / 100 * len(sorted_samples)))
    return sorted_samples[rank - 1]


def latency_summary(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean in milliseconds for latency samples given in seconds."""
    ordered = sorted(samples_s)
    summary = {f"p{p}_ms": percentile(ordered, p) * 1000 for p in (50, 95, 99)}
    summary["max_ms"] = ordered[-1] * 1000
    summary["mean_ms"] = sum(ordered) / len(ordered) * 1000
    return {key: round(value, 3) for key, value in summary.items()}


def phases_summary(run_times_s: Sequence[float], elapsed_s: float | None = None) -> dict[str, Any]:
    """Figures of the ``phases`` workload from the wall times of its runs (seconds).

    Sequential (``elapsed_s`` None): p50/p95/mean run time in ms and ``per_phase_us``
    = mean run time / PHASES_PER_WORKFLOW. Concurrent (``elapsed_s`` = start of the
    first run to end of the last): ``runs_per_s``, ``elapsed_s`` and ``per_phase_us``
    = elapsed / (runs x PHASES_PER_WORKFLOW), plus the same run-time percentiles.
    """
    ordered = sorted(run_times_s)
    mean = sum(ordered) / len(ordered)
    fields: dict[str, Any] = {"runs": len(ordered)}
    if elapsed_s is not None:
        fields["runs_per_s"] = rate(len(ordered), elapsed_s)
        fields["elapsed_s"] = round(elapsed_s, 4)
        per_phase_s = elapsed_s / (len(ordered) * PHASES_PER_WORKFLOW)
    else:
        per_phase_s = mean / PHASES_PER_WORKFLOW
    fields["per_phase_us"] = round(per_phase_s * 1e6, 1)
    fields["run_ms_p50"] = round(percentile(ordered, 50) * 1000, 3)
    fields["run_ms_p95"] = round(percentile(ordered, 95) * 1000, 3)
    fields["run_ms_mean"] = round(mean * 1000, 3)
    return fields


def result(
    system: str, version: str, backend: str, workload: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """A result line: the identifying fields first, then ``fields``."""
    return {"system": system, "version": version, "backend": backend, "workload": workload} | fields


def skip_record(
    system: str, version: str, backend: str, workload: str, reason: str
) -> dict[str, Any]:
    """Result line for a workload a peer does not support."""
    return {
        "system": system,
        "version": version,
        "backend": backend,
        "workload": workload,
        "skipped": reason,
    }


# ----------------------------------------------------------------------- postgres


def dsn_for(dbname: str) -> str:
    """DSN of database ``dbname`` on the benchmark PostgreSQL server."""
    return f"{PG_SERVER_DSN.rstrip('/')}/{dbname}"


def _admin_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(dsn_for("postgres"), autocommit=True) as conn:
        conn.execute(sql)


@contextlib.contextmanager
def temp_database(dbname: str) -> Iterator[str]:
    """Create a fresh database ``dbname`` (dropping a leftover one), yield its DSN, drop it."""
    if not dbname.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {dbname!r}")
    _admin_execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    _admin_execute(f'CREATE DATABASE "{dbname}"')
    log(f"created database {dbname}")
    try:
        yield dsn_for(dbname)
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        log(f"dropped database {dbname}")


def checkpoint(dsn: str) -> None:
    """Force a PostgreSQL CHECKPOINT before a timed phase.

    Creating and dropping the benchmark databases (and installing schemas) leaves
    dirty buffers and WAL behind; without this, a checkpoint can land inside the
    measured window and cost a run 10-20%.
    """
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def analyze(dsn: str, *tables: str) -> None:
    """Run ANALYZE on ``tables`` so the planner has statistics for the freshly filled queue.

    A brand-new database has none until autovacuum gets to it, which can make the
    first minute of a queue look far slower than its steady state (procrastinate:
    about 150 jobs/s without statistics, 650/s with). Every PostgreSQL peer gets it
    between enqueue and drain; it counts in tasks_per_s but not in the phase rates.
    """
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in tables:
            conn.execute(f"ANALYZE {table}")


# ----------------------------------------------------------------------- latency


def record_latency(samples_path: str, seq: int, enqueued_at: float) -> None:
    """Handler side: append ``seq`` and the enqueue-to-start latency to the samples file.

    The latency is taken first, so the file write is not part of what is measured.
    Each line is a single small ``O_APPEND`` write, which is atomic across processes.
    """
    latency = time.time() - enqueued_at
    line = f"{seq} {latency:.9f}\n".encode()
    fd = os.open(samples_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def record_finish(path: str) -> None:
    """Handler side: append ``"0 <time.time()>"``, the moment this task finished."""
    record_latency(path, 0, 0.0)


@dataclass
class SampleFile:
    """The file the latency handlers append ``"<seq> <latency_s>"`` lines to."""

    path: Path

    def read(self) -> dict[int, float]:
        """Samples received so far, by sequence number."""
        if not self.path.exists():
            return {}
        samples: dict[int, float] = {}
        for line in self.path.read_text().splitlines():
            seq, latency = line.split()
            samples[int(seq)] = float(latency)
        return samples

    def wait_for_lines(self, count: int, timeout_s: float) -> list[float]:
        """Poll until the file holds ``count`` lines; return their values (not by key)."""
        deadline = time.monotonic() + timeout_s
        while True:
            lines = self.path.read_text().splitlines() if self.path.exists() else []
            if len(lines) >= count:
                return [float(line.split()[1]) for line in lines]
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count - len(lines)} lines missing after {timeout_s}s")
            time.sleep(0.25)

    def wait_for(self, seqs: set[int], timeout_s: float) -> dict[int, float]:
        """Poll until every sequence number in ``seqs`` has a sample; raise on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            samples = self.read()
            missing = seqs - samples.keys()
            if not missing:
                return samples
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(missing)} latency samples missing after {timeout_s}s")
            time.sleep(0.05)


def wait_until_worker_ready(
    enqueue: Callable[[int, float], None], samples: SampleFile, timeout_s: float = 60.0
) -> None:
    """Enqueue ping tasks (negative sequence numbers) until the worker has answered one."""
    deadline = time.monotonic() + timeout_s
    seq = -1
    while time.monotonic() < deadline:
        enqueue(seq, time.time())
        try:
            samples.wait_for({seq}, timeout_s=2.0)
        except TimeoutError:
            seq -= 1
            continue
        # Let the worker settle back into its idle state before measuring.
        time.sleep(0.5)
        return
    raise TimeoutError("worker did not answer a ping")


def run_paced_producer(n: int, enqueue: Callable[[int, float], None]) -> None:
    """Enqueue ``n`` tasks, one every LATENCY_INTERVAL_S on an absolute schedule.

    ``enqueue(seq, enqueued_at)`` is called with ``enqueued_at = time.time()`` taken
    just before the call.
    """
    start = time.monotonic()
    for seq in range(n):
        delay = start + seq * LATENCY_INTERVAL_S - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        enqueue(seq, time.time())


async def wait_until_worker_ready_async(
    enqueue: Callable[[int, float], Awaitable[object]],
    samples: SampleFile,
    timeout_s: float = 60.0,
) -> None:
    """Async twin of :func:`wait_until_worker_ready` for peers with async clients."""
    deadline = time.monotonic() + timeout_s
    seq = -1
    while time.monotonic() < deadline:
        await enqueue(seq, time.time())
        for _ in range(40):
            if seq in samples.read():
                await asyncio.sleep(0.5)
                return
            await asyncio.sleep(0.05)
        seq -= 1
    raise TimeoutError("worker did not answer a ping")


async def run_paced_producer_async(
    n: int, enqueue: Callable[[int, float], Awaitable[object]]
) -> None:
    """Async twin of :func:`run_paced_producer`."""
    start = time.monotonic()
    for seq in range(n):
        delay = start + seq * LATENCY_INTERVAL_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await enqueue(seq, time.time())


def collect_latency(
    samples: SampleFile, n: int, timeout_s: float = 60.0
) -> tuple[int, dict[str, float]]:
    """Wait for all ``n`` samples, drop the warm-up ones, return (count, summary)."""
    received = samples.wait_for(set(range(n)), timeout_s=timeout_s)
    kept = [received[seq] for seq in range(WARMUP_SAMPLES, n)]
    return len(kept), latency_summary(kept)


# ---------------------------------------------------------------------- processes


def spawn(cmd: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a worker subprocess in its own process group, its output sent to our stderr."""
    log("starting worker: " + " ".join(cmd))
    return subprocess.Popen(
        list(cmd),
        env={**os.environ, **(env or {})},
        stdout=sys.stderr,
        stderr=sys.stderr,
        cwd=PEERS_DIR,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    """Stop a worker started by :func:`spawn`: SIGTERM its group, then SIGKILL if needed."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def self_worker_cmd(script: str, workload: str, dsn: str, samples: str, *extra: str) -> list[str]:
    """Command line that re-runs ``script`` as a worker process."""
    return [
        sys.executable,
        str(PEERS_DIR / script),
        "--workload",
        workload,
        "--role",
        "worker",
        "--dsn",
        dsn,
        "--samples",
        samples,
        *extra,
    ]
