"""coord quickstart: analyse the Python standard library as a batch of durable tasks.

    .venv/bin/python examples/quickstart/run.py [--limit N] [--fresh] [--concurrency N]

It enqueues one task per module of the standard library (plus two inputs that can
never succeed), runs a worker in this process until every task of the batch is final,
showing progress from the store's counts, and prints a summary. Results go to
``.coord/quickstart/results/``; the tasks live in the embedded default database
(``sqlite:///.coord/coord.db``, or ``COORD_DATABASE_URL``), so afterwards
``coord task list --queue quickstart`` and ``coord dlq list`` show them.

Run it again: every task has an idempotency key, so the batch is found, not redone
(``--fresh`` starts a new one). Interrupt it with Ctrl-C and run it again: it finishes
what is left.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import sysconfig
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # runnable from any directory

from tasks import QUEUE, analyze, app

import coord

WORK_DIR = Path(".coord") / "quickstart"
SKIPPED_PACKAGES = {"test", "idlelib", "lib2to3", "tkinter", "turtledemo", "site-packages"}
FLAKY_EVERY = 25  # one input in 25 fails once with a transient error, then succeeds

console = Console(soft_wrap=True)
progress_console = Console(stderr=True)


def stdlib_modules(limit: int) -> list[tuple[str, Path]]:
    """``(name, path)`` of standard-library modules: top level and one package deep."""
    root = Path(sysconfig.get_paths()["stdlib"])
    found = [
        path
        for path in [*root.glob("*.py"), *root.glob("*/*.py")]
        if path.parent == root or path.parent.name not in SKIPPED_PACKAGES
    ]
    modules = sorted(found, key=lambda p: p.relative_to(root).as_posix())[:limit]
    return [(p.relative_to(root).as_posix().replace("/", "."), p) for p in modules]


def build_batch(limit: int, batch: str, results: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The payloads and idempotency keys of the batch."""
    inputs = WORK_DIR / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    broken = inputs / "broken_module.py"
    broken.write_text("def broken(:\n    return 42\n", encoding="utf-8")
    deleted = inputs / "deleted_module.py"
    deleted.unlink(missing_ok=True)  # enqueued, but gone by the time it runs

    modules = stdlib_modules(limit)
    items = [*modules, ("broken_module.py", broken), ("deleted_module.py", deleted)]
    payloads = [
        {
            "path": str(path.resolve()),
            "name": name,
            "out_dir": str(results.resolve()),
            "flaky": index < len(modules) and index % FLAKY_EVERY == FLAKY_EVERY - 1,
        }
        for index, (name, path) in enumerate(items)
    ]
    keys = [f"quickstart:{batch}:{name}" for name, _ in items]
    return payloads, keys


def queue_counts() -> dict[str, int]:
    """Tasks of the quickstart queue per state, as the store counts them."""
    for stats in app.queues.stats():
        if stats.queue == QUEUE:
            return stats.model_dump(exclude={"queue", "oldest_pending_age_s"})
    return {}


@dataclass
class RunResult:
    """How the worker run ended."""

    stats: coord.WorkerStats
    seconds: float
    interrupted: bool


async def work(total: int, concurrency: int) -> RunResult:
    """Run a worker until no task of the queue is waiting or running (or Ctrl-C)."""
    worker = app.worker(concurrency=concurrency)
    started = time.perf_counter()
    running = asyncio.create_task(worker.run())
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "[green]{task.fields[succeeded]} ok[/] · [yellow]{task.fields[failed]} to retry[/]"
            " · [red]{task.fields[dead]} dead[/]"
        ),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=progress_console) as progress:
            bar = progress.add_task("analysing", total=total, succeeded=0, failed=0, dead=0)
            while not interrupted.is_set():
                counts = await asyncio.to_thread(queue_counts)
                left = sum(counts.get(s, 0) for s in ("pending", "running", "failed"))
                progress.update(
                    bar,
                    completed=max(0, total - left),
                    succeeded=counts.get("succeeded", 0),
                    failed=counts.get("failed", 0),
                    dead=counts.get("dead", 0),
                )
                if left == 0:
                    break
                if running.done():  # the worker crashed: show why
                    running.result()
                await asyncio.sleep(0.1)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        worker.stop()
        stats = await running
    return RunResult(stats, time.perf_counter() - started, interrupted.is_set())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=400, help="modules to analyse (400)")
    parser.add_argument("--concurrency", type=int, default=8, help="tasks run at once (8)")
    parser.add_argument("--fresh", action="store_true", help="start a new batch")
    args = parser.parse_args()

    began = time.perf_counter()
    results = WORK_DIR / "results"
    results.mkdir(parents=True, exist_ok=True)
    batch = (
        datetime.now().strftime("%Y%m%d-%H%M%S.%f")
        if args.fresh
        else f"py{sys.version_info[0]}{sys.version_info[1]}"
    )
    payloads, keys = build_batch(args.limit, batch, results)

    # One transaction: the whole batch is stored, or none of it. Keys that exist
    # already return the existing tasks, so a rerun enqueues nothing twice.
    handles = app.enqueue_many(analyze, payloads, keys=keys)
    ids = [h.id for h in handles]
    done_before = sum(app.get_task(i).state.is_terminal for i in ids)
    console.print(
        f"[bold]coord quickstart[/]: {len(ids)} tasks in batch {batch!r}, {done_before} of "
        f"them final from an earlier run; database {app.settings.masked()['database_url']}",
        highlight=False,
    )

    run = asyncio.run(work(len(ids), args.concurrency))
    tasks = [app.get_task(i) for i in ids]
    app.close()
    if run.interrupted:
        console.print("[yellow]interrupted[/]: run it again to finish the batch")
        return 130
    return summarize(tasks, run, time.perf_counter() - began, results)


def summarize(tasks: list[coord.TaskInfo], run: RunResult, wall: float, results: Path) -> int:
    """Print what happened to the batch; write the index of all results."""
    succeeded = [t for t in tasks if t.state is coord.TaskState.SUCCEEDED]
    dead = [t for t in tasks if t.state is coord.TaskState.DEAD]
    retried = [t for t in tasks if t.attempt > 1]
    unfinished = [t for t in tasks if not t.state.is_terminal]
    index = WORK_DIR / "index.json"
    reports = sorted((t.result for t in succeeded), key=lambda r: r["output"])
    index.write_text(json.dumps(reports, indent=1), encoding="utf-8")

    ran = run.stats.succeeded + run.stats.dead
    rate = f"{ran / run.seconds:.0f} tasks/s" if ran else "nothing left to run"
    console.print(f"  succeeded  {len(succeeded)}")
    console.print(f"  retried    {len(retried)}  (transient errors, then succeeded)")
    console.print(f"  dead       {len(dead)}  (see `coord dlq list`)")
    for task in dead:
        console.print(f"             - {(task.error or {}).get('message')}", highlight=False)
    console.print(f"  wall time  {wall:.1f}s  ({ran} tasks run by this worker, {rate})")
    console.print(f"  results    {results}/  (index: {index})")
    if succeeded:
        largest = max(succeeded, key=lambda t: t.result["lines"])
        console.print(f"  largest    {largest.payload['name']}: {largest.result['lines']} lines")
    if unfinished:
        console.print(f"[red]{len(unfinished)} tasks did not finish[/]")
        return 1
    console.print("Next: `coord task list --queue quickstart`, `coord dlq list`, or rerun this.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
