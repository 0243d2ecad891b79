"""Run every benchmark (coord and its peers) and print comparison tables.

Standard library only, so any python can run it::

    python bench/run.py [--short] [--rounds N] [--only coord|peers] [--workload W]
                        [--coord-python PY]

coord's ``bench/coord_bench.py`` runs with ``--coord-python`` (default: the python
running this script) on both backends; each peer script in ``bench/peers/`` runs with
``bench/.venv-peers/bin/python`` (``bench/setup_peers.sh`` creates it when missing),
for the workloads it implements (PEER_WORKLOADS).
Every JSON result line goes to ``bench/results/latest.jsonl``, each script's stderr to
``bench/results/logs/``. A script that fails, times out or is missing becomes a row
saying so; the run goes on.

With ``--rounds N`` (default 3) the whole plan runs N times, round-robin, so that a
machine getting busier or quieter during the run affects every system alike; each
table row is then the median round of that system (by its main figure), with the
spread of that figure over the rounds.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
LOGS = RESULTS / "logs"
PEERS_PYTHON = BENCH / ".venv-peers" / "bin" / "python"
COORD_SCRIPT = BENCH / "coord_bench.py"
WORKLOADS = ("throughput", "latency", "steps", "phases")
COORD_BACKENDS = ("sqlite", "postgres")
PEERS = ("pgqueuer", "procrastinate", "celery", "dbos", "langgraph")
#: The workloads each peer script runs (the queue peers print a ``skipped`` line for
#: steps; phases is for workflow engines only, and LangGraph does nothing else).
QUEUE_WORKLOADS = ("throughput", "latency", "steps")
PEER_WORKLOADS = {
    "pgqueuer": QUEUE_WORKLOADS,
    "procrastinate": QUEUE_WORKLOADS,
    "celery": QUEUE_WORKLOADS,
    "dbos": WORKLOADS,
    "langgraph": ("phases",),
}
#: The backend a failure row of a peer script is filed under; every phases script
#: covers both (its result lines name the backend of each).
PEER_BACKENDS = {"pgqueuer": "postgres", "procrastinate": "postgres", "celery": "redis"}
PHASES_BACKENDS = "sqlite+postgres"
#: Row order of the phases table.
MODES = ("sequential", "concurrent")
#: The reference every ratio is taken against.
REFERENCE = ("coord", "postgres")

Record = dict[str, Any]
#: Per workload: the figure a row is ranked by, and whether higher is better.
MAIN_FIGURE = {
    "throughput": "tasks_per_s",
    "latency": "p50_ms",
    "steps": "step_overhead_us",
    "phases": "per_phase_us",
}


@dataclass
class Job:
    """One benchmark script invocation."""

    system: str
    backend: str
    workload: str
    cmd: list[str]
    script: Path

    @property
    def name(self) -> str:
        """Short name, used for the log file."""
        suffix = f"-{self.backend}" if self.system == "coord" else ""
        return f"{self.system}{suffix}-{self.workload}"


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[run {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def failure(job: Job, status: str, reason: str) -> Record:
    """Record standing in for a script that produced no result."""
    return {
        "system": job.system,
        "backend": job.backend,
        "workload": job.workload,
        "status": status,
        "error": reason,
    }


def run_job(job: Job, timeout_s: float) -> list[Record]:
    """Run one script; return its JSON result lines, or one failure record."""
    if not job.script.exists():
        return [failure(job, "missing", f"{job.script.relative_to(BENCH.parent)} not found")]
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{job.name}.log"
    log(f"{job.name}: {' '.join(job.cmd)}")
    started = time.monotonic()
    with log_path.open("w") as stderr:
        try:
            proc = subprocess.Popen(job.cmd, stdout=subprocess.PIPE, stderr=stderr, text=True)
        except OSError as exc:
            return [failure(job, "failed", str(exc))]
        try:
            stdout, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            interrupt(proc)
            return [failure(job, "failed", f"timed out after {timeout_s:.0f}s")]
    records: list[Record] = []
    for raw in stdout.splitlines():
        line = raw.strip()
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                log(f"{job.name}: ignoring malformed line {line[:80]!r}")
    log(f"{job.name}: exit {proc.returncode} in {time.monotonic() - started:.1f}s")
    if proc.returncode != 0 or not records:
        reason = last_error_line(log_path) or f"exit status {proc.returncode}, no result"
        return [*records, failure(job, "failed", reason)]
    return records


def interrupt(proc: subprocess.Popen[str], grace_s: float = 60.0) -> None:
    """Stop a timed-out script with SIGINT, so its cleanup runs (workers stopped,
    database dropped); SIGKILL it if it has not exited after ``grace_s``."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception|Interrupt|Timeout\w*)\b.*")


def last_error_line(log_path: Path) -> str:
    """The last exception line in a script's stderr (else its last line), shortened.

    Worker subprocesses may still log after the script's traceback, hence the search.
    """
    lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if EXCEPTION_LINE.match(line)]
    chosen = errors[-1] if errors else (lines[-1] if lines else "")
    return chosen[:160]


def ensure_peers_venv() -> str | None:
    """Create the peers venv if missing; return an error message on failure."""
    if PEERS_PYTHON.exists():
        return None
    log("peers venv missing: running setup_peers.sh")
    proc = subprocess.run(["bash", str(BENCH / "setup_peers.sh")], check=False)
    if proc.returncode != 0 or not PEERS_PYTHON.exists():
        return f"setup_peers.sh failed (exit {proc.returncode})"
    return None


def plan(args: argparse.Namespace) -> list[Job]:
    """The script invocations this run makes."""
    workloads = [args.workload] if args.workload else list(WORKLOADS)
    short = ["--short"] if args.short else []
    jobs: list[Job] = []
    if args.only in (None, "coord"):
        for workload in workloads:
            for backend in COORD_BACKENDS:
                cmd = [args.coord_python, str(COORD_SCRIPT), "--workload", workload]
                cmd += ["--backend", backend, *short]
                jobs.append(Job("coord", backend, workload, cmd, COORD_SCRIPT))
    if args.only in (None, "peers"):
        for peer in PEERS:
            script = BENCH / "peers" / f"{peer}_bench.py"
            for workload in workloads:
                if workload not in PEER_WORKLOADS[peer]:
                    continue
                cmd = [str(PEERS_PYTHON), str(script), "--workload", workload, *short]
                backend = PEER_BACKENDS.get(peer, "postgres")
                if workload == "phases":
                    backend = PHASES_BACKENDS
                jobs.append(Job(peer, backend, workload, cmd, script))
    return jobs


# ------------------------------------------------------------------------ tables


def median_rounds(records: list[Record]) -> list[Record]:
    """One record per (system, backend, variant, workload, mode): the median round by
    the workload's main figure, with ``rounds`` and ``spread`` (min and max) added.
    Failed rounds are kept only when no round succeeded."""
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for record in records:
        key = tuple(record.get(k) for k in ("system", "backend", "variant", "workload", "mode"))
        groups.setdefault(key, []).append(record)
    merged: list[Record] = []
    for group in groups.values():
        figure = MAIN_FIGURE.get(str(group[0].get("workload")), "")
        measured = sorted(
            (r for r in group if isinstance(r.get(figure), (int, float))), key=lambda r: r[figure]
        )
        if not measured:
            merged.append(group[-1])
            continue
        values = [r[figure] for r in measured]
        median = dict(measured[(len(measured) - 1) // 2])
        median["rounds"] = len(measured)
        median["spread"] = [values[0], values[-1]]
        merged.append(median)
    return merged


def spread_cell(record: Record) -> str:
    """ "min-max (n)" of the main figure over the rounds, when there were several."""
    spread = record.get("spread")
    if not spread or record.get("rounds", 1) < 2:
        return ""
    digits = 2 if record.get("workload") == "latency" else 0
    low, high = (fmt(float(value), digits) for value in spread)
    return f"{low} to {high} ({record['rounds']})"


def label(record: Record) -> str:
    """System name plus its variant, if any."""
    variant = record.get("variant")
    return f"{record['system']} ({variant})" if variant else str(record["system"])


def fmt(value: Any, digits: int = 1) -> str:
    """A number for a table cell ("" when absent)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def ratio(numerator: Any, denominator: Any) -> str:
    """``numerator / denominator`` as "1.23x", or "" when either is missing or zero."""
    if not isinstance(numerator, (int, float)) or not isinstance(denominator, (int, float)):
        return ""
    return f"{numerator / denominator:.2f}x" if denominator else ""


def reference(records: Iterable[Record], workload: str, mode: str | None = None) -> Record | None:
    """coord-postgres's result for ``workload`` (and ``mode``), if it has one: its
    main row, not a variant (phases also has ``variant: worker process``)."""
    for record in records:
        key = (record.get("system"), record.get("backend"))
        if (
            key == REFERENCE
            and record.get("workload") == workload
            and record.get("mode") == mode
            and not record.get("variant")
            and "error" not in record
        ):
            return record
    return None


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def status_cell(record: Record) -> str | None:
    """ "failed: ...", "missing: ..." or "skipped: ..." for a record without numbers."""
    if "error" in record:
        return f"{record['status']}: {record['error']}".replace("|", "/")
    if "skipped" in record:
        return f"skipped: {record['skipped']}"
    return None


def render(records: list[Record], workload: str) -> str:
    """The markdown table for one workload; ratios are "> 1x: coord-postgres is better"."""
    ref = reference(records, workload) or {}
    rows: list[list[str]] = []
    if workload == "phases":
        headers = ["system", "backend", "mode", "version", "runs", "per-phase µs"]
        headers += ["run p50 ms", "run p95 ms", "runs/s", "per step minus empty run µs"]
        headers += ["this ÷ coord-pg (same mode)", "µs over rounds"]
        fields = ["runs", "per_phase_us", "run_ms_p50", "run_ms_p95", "runs_per_s"]
        fields += ["per_step_us_minus_empty"]
        rank = {mode: index for index, mode in enumerate(MODES)}
        records = sorted(records, key=lambda r: rank.get(str(r.get("mode")), -1))
    elif workload == "throughput":
        headers = ["system", "backend", "version", "n", "tasks/s", "enqueue/s", "drain/s"]
        headers += ["coord-pg ÷ this (tasks/s)", "tasks/s over rounds"]
        fields = ["n", "tasks_per_s", "enqueue_per_s", "drain_per_s"]
    elif workload == "latency":
        headers = ["system", "backend", "version", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"]
        headers += ["this ÷ coord-pg (p50)", "this ÷ coord-pg (p99)", "p50 over rounds"]
        fields = ["n", "p50_ms", "p95_ms", "p99_ms", "max_ms"]
    else:
        headers = ["system", "backend", "version", "n", "per-step overhead µs"]
        headers += ["this ÷ coord-pg", "µs over rounds"]
        fields = ["n", "step_overhead_us"]
    for record in records:
        if record.get("workload") != workload:
            continue
        row = [label(record), str(record.get("backend", ""))]
        if workload == "phases":
            row.append(str(record.get("mode", "")))
        row.append(str(record.get("version", "")))
        status = status_cell(record)
        if status is not None:
            rows.append(row + [status] + [""] * (len(headers) - len(row) - 1))
            continue
        row += [fmt(record.get(field), 2 if "ms" in field else 1) for field in fields]
        if workload == "phases":
            same_mode = reference(records, workload, record.get("mode")) or {}
            row.append(ratio(record.get("per_phase_us"), same_mode.get("per_phase_us")))
        elif workload == "throughput":
            row.append(ratio(ref.get("tasks_per_s"), record.get("tasks_per_s")))
        elif workload == "latency":
            row.append(ratio(record.get("p50_ms"), ref.get("p50_ms")))
            row.append(ratio(record.get("p99_ms"), ref.get("p99_ms")))
        else:
            row.append(ratio(record.get("step_overhead_us"), ref.get("step_overhead_us")))
        row.append(spread_cell(record))
        rows.append(row)
    return f"### {workload}\n\n" + table(headers, rows)


def main() -> int:
    """Run the planned scripts, save their results, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="smaller sizes, for smoke tests")
    parser.add_argument("--only", choices=("coord", "peers"), help="run only one side")
    parser.add_argument("--workload", choices=WORKLOADS, help="run only this workload")
    parser.add_argument("--coord-python", default=sys.executable, help="python for coord_bench.py")
    parser.add_argument(
        "--rounds", type=int, default=3, help="run everything this many times (median kept)"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds allowed per script run"
    )
    args = parser.parse_args()

    jobs = plan(args)
    peers_error = ensure_peers_venv() if any(job.system != "coord" for job in jobs) else None
    records: list[Record] = []
    for round_number in range(1, args.rounds + 1):
        log(f"round {round_number} of {args.rounds}")
        for job in jobs:
            if peers_error and job.system != "coord":
                records.append(failure(job, "failed", peers_error))
                continue
            records.extend({**r, "round": round_number} for r in run_job(job, args.timeout))

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "latest.jsonl"
    out.write_text("".join(json.dumps(record) + "\n" for record in records))
    log(f"wrote {len(records)} records to {out.relative_to(BENCH.parent)}")

    workloads = [args.workload] if args.workload else list(WORKLOADS)
    records = median_rounds(records)
    print(
        f"## coord benchmarks ({time.strftime('%Y-%m-%d %H:%M')}, short={args.short}, "
        f"rounds={args.rounds})\n"
    )
    print("Ratios are taken against coord on PostgreSQL; above 1x means coord is better.\n")
    for workload in workloads:
        print(render(records, workload) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
