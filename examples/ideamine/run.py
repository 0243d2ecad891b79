"""coord ideamine: a brief goes in, a tested, approved and deployed package comes out.

    .venv/bin/python examples/ideamine/run.py [--workdir DIR] [--database-url URL]

It starts one run of the twelve-stage workflow ``ideamine.yaml`` (keyed by the
workdir), runs a worker in this process until the run waits for a person, approves
the release as that person (``--approver``, a registered human agent), runs the rest,
then prints every phase, the cost against the budgets, and writes the run's dossier
into the workdir. Everything the agents write is in the workdir; the run lives in
``DIR/coord.db`` unless ``--database-url`` says otherwise.

Run it again on the same workdir: the key finds the same run, nothing runs twice.
With ``--no-approve`` it stops at the approval, for ``coord gate approve``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # runnable from any directory

from agents.common import DEFAULT_BRIEF
from app import app, workflow

import coord

DEFAULT_WORKDIR = Path(".coord") / "ideamine"
QUIET_WAITS = 4  # half-second waits with nothing to run before saying why


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="the workspace")
    parser.add_argument("--database-url", help="default: sqlite:///WORKDIR/coord.db")
    parser.add_argument("--brief", type=Path, default=DEFAULT_BRIEF, help="the brief to mine")
    parser.add_argument("--approver", default="lead", help="the person who approves releases")
    parser.add_argument(
        "--no-approve", action="store_true", help="stop when the release awaits approval"
    )
    return parser.parse_args()


def ensure_human(name: str) -> None:
    """Register the approver as a human agent (once)."""
    try:
        app.get_agent(name)
    except coord.NotFound:
        app.add_agent(name, role="lead", human=True, description="approves ideamine releases")


@dataclass
class Driven:
    """How driving the run ended."""

    run: coord.RunInfo
    stats: coord.WorkerStats
    interrupted: bool


async def drive(run_id: str, approver: str, approve: bool) -> Driven:
    """Run a worker in this process until the run ends (or needs a person and
    ``approve`` is off), approving as ``approver`` the phases that wait for one.
    Ctrl-C stops the worker gracefully: running again goes on from there."""
    worker = app.worker()
    running = asyncio.create_task(worker.run())
    interrupted = asyncio.Event()

    def on_signal() -> None:
        interrupted.set()
        worker.stop()  # claim nothing more; running tasks get COORD_SHUTDOWN_GRACE

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    quiet = 0  # waits in a row with nothing running here
    try:
        while not interrupted.is_set():
            try:
                run = await app.aio.runs.wait(run_id, 0.5)
            except coord.WaitTimeout:
                if running.done():
                    running.result()  # the worker failed: raise its error
                quiet = 0 if worker.running else quiet + 1
                if quiet == QUIET_WAITS:
                    print("waiting for tasks a stopped worker still holds (until their leases end)")
                continue
            waiting = [p.name for p in run.phases if p.state is coord.PhaseState.AWAITING_APPROVAL]
            if not waiting or not approve:
                break
            for phase in waiting:
                print(f"{phase} awaits a human approval; approving it as {approver}")
                print(
                    f"  (what a person runs: coord gate approve {run_id} {phase} --by {approver})"
                )
                await app.aio.runs.approve(run_id, phase, by=approver)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        worker.stop()
        stats = await running
    return Driven(app.runs.get(run_id), stats, interrupted.is_set())


def gate_text(phase: coord.PhaseInfo) -> str:
    """How a phase's gate went, in a few words."""
    if phase.approval:
        return f"approved by {phase.approval['by']}"
    if phase.gate is None:
        return "-"
    verdict = "passed" if phase.gate.get("passed") else "failed"
    if phase.loops:
        verdict += f" after {phase.loops} fix loop{'s' * (phase.loops > 1)}"
    return verdict


def money(value: float | None) -> str:
    """``$0.0123``, or ``-`` for no limit."""
    return "-" if value is None else f"${value:.4f}"


def count(value: float | None) -> str:
    """``12,345``, or ``-`` for no limit."""
    return "-" if value is None else f"{value:,.0f}"


def print_summary(run: coord.RunInfo) -> None:
    """Every phase, then the cost table."""
    print(f"\nrun {run.id}: {run.state.value}" + (f" ({run.reason})" if run.reason else ""))
    print(f"{'phase':<13} {'state':<18} {'attempts':>8} {'loops':>5}  {'gate':<24} tokens")
    for p in run.phases:
        state = p.state.value + (f" x{p.items}" if p.items is not None else "")
        print(
            f"{p.name:<13} {state:<18} {p.attempt:>8} {p.loops:>5}  {gate_text(p):<24} "
            f"{count(p.usage.get('tokens', 0))}"
        )
        if p.error:
            print(f"  {p.name}: {p.error}")
    cost = app.runs.cost(run.id)
    print(f"\n{'cost':<13} {'tokens':>8} {'budget':>8} {'usd':>9} {'budget':>9}")
    for line in [*cost.phases, cost.total]:
        print(
            f"{line.phase or 'total':<13} {count(line.usage['tokens']):>8} "
            f"{count(line.budget.get('tokens')):>8} {money(line.usage['usd']):>9} "
            f"{money(line.budget.get('usd')):>9}" + ("  OVER" if line.over else "")
        )


def write_dossier(run: coord.RunInfo, workdir: Path) -> None:
    """The run's dossier in ``WORKDIR/dossier`` (once)."""
    out = workdir / "dossier"
    if out.exists():
        print(f"\ndossier: {out} (written earlier)")
        return
    files = app.runs.dossier(run.id).write(out)
    artifacts = sum(f.startswith("artifacts/") for f in files)
    print(f"\ndossier: {out} ({len(files)} files: {artifacts} artifacts, events.jsonl, ...)")


def main() -> int:
    """Start or find the run, drive it to its end, report it."""
    args = parse_args()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{workdir / 'coord.db'}"
    app.use_database(url)
    print(f"ideamine: workdir {workdir}")
    print(f"  database {url if url.startswith('sqlite') else '(from --database-url)'}")
    ensure_human(args.approver)
    key = "ideamine:" + hashlib.sha256(str(workdir).encode()).hexdigest()[:12]
    run_input = {"workdir": str(workdir), "brief": str(args.brief.resolve())}
    started = time.perf_counter()
    try:
        handle = app.runs.start(workflow.name, run_input, key=key)
    except coord.IdempotencyConflict:
        print(f"this workdir has a run of another brief (key {key}): use a new --workdir")
        return 2
    if handle.created:
        print(f"started run {handle.id} (key {key})")
    else:
        state = handle.info().state.value
        print(f"found run {handle.id} (key {key}), {state}: what ran is not run again")
    driven = asyncio.run(drive(handle.id, args.approver, approve=not args.no_approve))
    run, elapsed = driven.run, time.perf_counter() - started
    print(f"worker: {driven.stats.claimed} task attempts run by this process in {elapsed:.1f}s")
    if driven.interrupted and not run.state.is_terminal:
        print(f"interrupted: run {run.id} is {run.state.value}; run this again to go on")
        return 130
    print_summary(run)
    if run.state is not coord.RunState.SUCCEEDED:
        waiting = [p.name for p in run.phases if p.state is coord.PhaseState.AWAITING_APPROVAL]
        if waiting:
            print(
                f"\n{waiting[0]} awaits approval: coord gate approve {run.id} {waiting[0]} "
                f"--by {args.approver}, then run this again"
            )
            return 0
        if run.state is coord.RunState.PAUSED:
            print(f"\npaused: raise the budget (coord budget set {run.id} tokens=N usd=X), then")
            print(f"coord run resume {run.id} and run this again")
        return 1
    write_dossier(run, workdir)
    beta = run.phase("beta").result
    print(f"deployed: {beta['deployed']} ({beta['files']} files; smoke test: {beta['smoke']})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except coord.CoordError as exc:  # e.g. a PostgreSQL database without the schema
        sys.exit(f"error: {exc}")
