"""``coord gate`` (approve, reject, waive) and ``coord budget set``."""

from __future__ import annotations

from typing import Annotated

import typer

from coord.cli import completion, surface
from coord.cli.options import checked_by
from coord.cli.output import Format, OutputOption, emit, line
from coord.domain.budgets import parse_limits
from coord.domain.durations import parse_duration
from coord.domain.run_views import RunInfo
from coord.errors import InvalidInput

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
    with surface.operations() as ops:
        found = ops.runs.approve(run_id, phase, by=by)
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
    with surface.operations() as ops:
        found = ops.runs.reject(run_id, phase, reason, by=by)
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
    with surface.operations() as ops:
        found = ops.runs.waive(run_id, phase, expires=expires, control=control, owner=owner)
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
    run_id, _, phase = target.partition(":")
    try:
        budget = parse_limits(limits)
    except ValueError as exc:
        raise InvalidInput.of(exc, "limits") from None
    usd = None if budget.usd_micros is None else budget.usd_micros / 1_000_000
    with surface.operations() as ops:
        found = ops.runs.set_budget(
            run_id,
            phase=phase or None,
            tokens=budget.tokens,
            usd=usd,
            tool_seconds=budget.tool_seconds,
        )
    now = found.phase(phase).budget if phase else found.budget
    limits_text = ", ".join(f"{k}={v:g}" for k, v in now.items()) or "no limits"
    emit(found, output, lambda: line(f"budget of {target}: {limits_text}"))
