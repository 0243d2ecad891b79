"""``coord config``: see and check the settings."""

from __future__ import annotations

import typer

from coord.cli import context
from coord.cli.output import Format, OutputOption, emit, stdout, table
from coord.services import database

app = typer.Typer(help="Show and check coord's settings (COORD_* variables).", no_args_is_help=True)


@app.command("show")
def show(output: OutputOption = Format.TEXT) -> None:
    """Print every setting with its value; passwords are masked."""
    values = context.settings().masked()
    emit(
        values,
        output,
        lambda: table(
            ["setting", "variable", "value"],
            [(k, f"COORD_{k.upper()}", v) for k, v in values.items()],
            empty="no settings",
        ),
    )


@app.command("validate")
def validate(output: OutputOption = Format.TEXT) -> None:
    """Check the settings, that the database answers, and that its schema is current.

    Exits 1 naming the first problem found.
    """
    label = context.database_label(context.settings())
    with context.open_store() as store:  # refuses a missing, older or newer schema
        report = database.current(store, label)
    checks = {
        "settings": "ok",
        "database": f"reachable ({report.dialect})",
        "schema": f"version {report.current} (current)",
    }

    def render() -> None:
        for key, value in checks.items():
            stdout.print(f"{key}: {value}")

    emit(checks, output, render)
