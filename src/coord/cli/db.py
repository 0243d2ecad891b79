"""``coord db``: create and upgrade the schema."""

from __future__ import annotations

import typer

from coord.cli import context
from coord.cli.output import Format, OutputOption, emit, stdout
from coord.services import database

app = typer.Typer(help="Create, upgrade and inspect the database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(output: OutputOption = Format.TEXT) -> None:
    """Create the schema or apply missing migrations. Safe to run again (idempotent)
    and from several machines at once."""
    current = context.settings()
    with context.open_store(create=True, check_schema=False) as store:
        report = database.upgrade(store, context.database_label(current))

    def render() -> None:
        if report.applied:
            stdout.print(
                f"applied migrations {report.applied}: schema now at version {report.current}"
            )
        else:
            stdout.print(f"schema already at version {report.current}: nothing to do")

    emit(report, output, render)


@app.command("current")
def current(output: OutputOption = Format.TEXT) -> None:
    """Show the schema version of the database and the one this coord needs."""
    settings = context.settings()
    with context.open_store(check_schema=False) as store:
        report = database.current(store, context.database_label(settings))

    def render() -> None:
        state = "up to date" if report.up_to_date else "outdated: run `coord db upgrade`"
        if report.current > report.target:
            state = "newer than this coord: upgrade coord"
        stdout.print(
            f"{report.database} ({report.dialect}): version {report.current}, "
            f"this coord needs {report.target}: {state}"
        )

    emit(report, output, render)
