"""Option helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer


def checked_by(parse: Callable[[str], object]) -> Callable[[str | None], str | None]:
    """An option callback: a value the domain's ``parse`` refuses is a usage error
    (exit 2, naming the option), like a bad choice, not a failed operation."""

    def check(value: str | None) -> str | None:
        if value is not None:
            try:
                parse(value)
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from None
        return value

    return check


ResetAllOption = Annotated[
    bool,
    typer.Option(
        "--reset-steps",
        help="First forget every recorded step result (and the checkpoint), so that the "
        "steps run again.",
    ),
]
ResetStepOption = Annotated[
    list[str] | None,
    typer.Option(
        "--reset-step",
        metavar="NAME",
        help="First forget the recorded results of step NAME (every call of it) and the "
        "checkpoint (repeatable).",
    ),
]


def steps_to_reset(every: bool, names: list[str] | None) -> bool | list[str]:
    """``reset_steps`` from ``--reset-steps`` (all) and ``--reset-step NAME`` (some)."""
    if every and names:
        raise typer.BadParameter("give --reset-steps (every step) or --reset-step NAME, not both")
    return list(names) if names else every
