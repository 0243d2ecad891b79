"""``coord gate`` (approve, reject, waive) and ``coord budget set``."""

from __future__ import annotations

from typing import Annotated

import typer

from coord.cli import completion, context, remote
from coord.cli.options import checked_by
from coord.cli.output import Format, OutputOption, emit, line
from coord.domain.durations import parse_duration
from coord.domain.run_views import RunInfo
from coord.services import runs as service

gate_app = typer.Typer(help="Approve, reject or waive the gates of a run.", no_args_is_help=True)
budget_app = typer.Typer(help="Set the budgets of a run or of its phases.", no_args_is_help=True)

RunArg = Annotated[str, typer.Argument(help="The run id.", autocompletion=completion.runs)]
PhaseArg = Annotated[str, typer.Argument(help="The phase.")]


def _done(found: RunInfo, phase: str, output: Format) -> None:
    state = found.phase(phase).state.value
    emit(found, output, lambda: line(f"run {found.id}: {found.state.value}; {phase}: {state}"))


@gate_app.command("approve")
def approve(
    run_id: RunArg,
    phase: PhaseArg,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="Who approves: a registered human agent.",
            autocompletion=completion.humans,
        ),
    ],
    output: OutputOption = Format.TEXT,
) -> None:
    """Approve a phase awaiting human approval; the run goes on."""
    with remote.session() as call:
        found = call(service.approve, run_id, phase, by)
    _done(found, phase, output)


@gate_app.command("reject")
def reject(
    run_id: RunArg,
    phase: PhaseArg,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="Who rejects: a registered human agent.",
            autocompletion=completion.humans,
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the run's history).")],
    output: OutputOption = Format.TEXT,
) -> None:
    """Reject a phase awaiting human approval: it fails, and the run with it (its
    compensations run)."""
    with remote.session() as call:
        found = call(service.reject, run_id, phase, by, reason)
    _done(found, phase, output)


@gate_app.command("waive")
def waive(
    run_id: RunArg,
    phase: PhaseArg,
    owner: Annotated[str, typer.Option("--owner", help="Who owns the risk.")],
    expires: Annotated[
        str,
        typer.Option(
            "--expires", help="How long it holds, e.g. 7d.", callback=checked_by(parse_duration)
        ),
    ],
    control: Annotated[
        str, typer.Option("--control", help="The compensating control that covers the risk.")
    ],
    output: OutputOption = Format.TEXT,
) -> None:
    """Record a waiver: when the phase's gate fails for the last time it passes as
    waived instead of failing the run. On a run that already failed at this gate,
    `coord run retry` then passes it without running the phase again."""
    with remote.session() as call:
        found = call(service.waive, run_id, phase, owner=owner, expires=expires, control=control)
    _done(found, phase, output)


@budget_app.command("set")
def set_budget(
    target: Annotated[
        str, typer.Argument(help="RUN or RUN:PHASE.", autocompletion=completion.runs)
    ],
    limits: Annotated[list[str], typer.Argument(help="Limits: tokens=N, usd=X, tool_seconds=S.")],
    output: OutputOption = Format.TEXT,
) -> None:
    """Set (raise or lower) limits of a run or one phase. A run paused for its
    budget stays paused until `coord run resume`."""
    with remote.session() as call:
        found = call(service.set_budget, target, limits, actor=context.actor())
    _, _, phase = target.partition(":")
    budget = found.phase(phase).budget if phase else found.budget
    limits_text = ", ".join(f"{k}={v:g}" for k, v in budget.items()) or "no limits"
    emit(found, output, lambda: line(f"budget of {target}: {limits_text}"))
