"""``coord queue`` and ``coord dlq``: queue health and dead letters."""

from __future__ import annotations

from typing import Annotated

import typer

from coord.cli import surface
from coord.cli.options import ResetAllOption, ResetStepOption, steps_to_reset
from coord.cli.output import Format, OutputOption, age, duration, emit, stdout, table

queue_app = typer.Typer(help="See queues: tasks per state, oldest waiting.", no_args_is_help=True)
dlq_app = typer.Typer(
    help="Dead letters: tasks out of attempts or failed fatally.", no_args_is_help=True
)


@queue_app.command("list")
def list_queues(output: OutputOption = Format.TEXT) -> None:
    """Per queue: pending, running, succeeded, failed (awaiting retry), dead, and the
    age of the oldest due task."""
    with surface.operations() as ops:
        stats = ops.queues.stats()
    emit(
        stats,
        output,
        lambda: table(
            ["queue", "pending", "running", "succeeded", "failed", "dead", "cancelled", "oldest"],
            [
                (
                    q.queue,
                    q.pending,
                    q.running,
                    q.succeeded,
                    q.failed,
                    q.dead,
                    q.cancelled,
                    duration(q.oldest_pending_age_s),
                )
                for q in stats
            ],
            empty="no queues yet: nothing was ever enqueued",
        ),
    )


@dlq_app.command("list")
def list_dead(output: OutputOption = Format.TEXT) -> None:
    """Dead tasks grouped by error: count, first and last seen, a sample task."""
    with surface.operations() as ops:
        groups = ops.dead_letters.groups()
    emit(
        groups,
        output,
        lambda: table(
            ["count", "error", "tasks", "first seen", "last seen", "sample"],
            [
                (
                    g.count,
                    f"{g.error_type}: {g.error_message[:80]}",
                    ",".join(g.task_names),
                    age(g.first_seen),
                    age(g.last_seen),
                    g.sample_task_id,
                )
                for g in groups
            ],
            empty="no dead tasks",
        ),
    )


@dlq_app.command("retry")
def retry(
    task_ids: Annotated[list[str] | None, typer.Argument(help="Dead task ids.")] = None,
    all_dead: Annotated[bool, typer.Option("--all", help="Retry every dead task.")] = False,
    reset_all: ResetAllOption = False,
    reset_names: ResetStepOption = None,
    output: OutputOption = Format.TEXT,
) -> None:
    """Send dead tasks back to the queue with a fresh set of attempts.

    Their memoized steps replay their recorded results, unless --reset-steps (all
    of them) or --reset-step NAME (those) forgets them first: then they run again.
    """
    if bool(task_ids) == all_dead:
        raise typer.BadParameter("name dead task ids, or pass --all (not both)")
    reset = steps_to_reset(reset_all, reset_names)
    with surface.operations() as ops:
        replayed = ops.dead_letters.retry(task_ids, all=all_dead, reset_steps=reset)
    reset_note = " (recorded steps reset)" if reset else ""
    emit(
        {"count": len(replayed), "ids": replayed},
        output,
        lambda: stdout.print(f"retrying {len(replayed)} task(s){reset_note}"),
    )
