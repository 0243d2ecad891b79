"""Option helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Callable

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
