"""The ``coord`` command: global options, sub-commands, and error handling.

Exit codes: 0 success, 1 the operation failed (the message says why), 2 bad usage.
Failures are reported by :class:`coord.cli.failures.CoordGroup`, one line each.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from coord import __version__
from coord.cli import (
    agents,
    audit,
    config,
    context,
    db,
    gates,
    inbox,
    messages,
    queues,
    runs,
    tasks,
    workflows,
)
from coord.cli import keys as keys_cli
from coord.cli import secrets as secrets_cli
from coord.cli import worker as worker_cli
from coord.cli.failures import CoordGroup
from coord.cli.server import server as server_command
from coord.errors import ConfigError
from coord.observability.logging import configure_logging
from coord.settings import LogLevel, Settings

app = typer.Typer(
    name="coord",
    cls=CoordGroup,
    help="coord: durable tasks, agent mailboxes and workflow runs. "
    "Embedded on SQLite by default; PostgreSQL with COORD_DATABASE_URL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(config.app, name="config")
app.add_typer(db.app, name="db")
app.add_typer(tasks.app, name="task")
app.add_typer(queues.queue_app, name="queue")
app.add_typer(queues.dlq_app, name="dlq")
app.command("worker")(worker_cli.worker)
app.command("server")(server_command)
app.add_typer(agents.app, name="agent")
app.command("subscribe")(agents.subscribe)
app.command("unsubscribe")(agents.unsubscribe)
app.command("send")(messages.send)
app.command("inbox")(inbox.inbox)
app.command("read")(messages.read)
app.command("ack")(messages.ack)
app.command("thread")(messages.thread)
app.add_typer(messages.message_app, name="message")
app.add_typer(workflows.app, name="workflow")
app.add_typer(runs.app, name="run")
app.add_typer(gates.gate_app, name="gate")
app.add_typer(gates.budget_app, name="budget")
app.add_typer(keys_cli.app, name="key")
app.add_typer(secrets_cli.app, name="secret")
app.add_typer(audit.app, name="audit")


def _version(value: bool) -> None:
    if value:
        print(f"coord {__version__}")
        raise typer.Exit()


# Commands that run here, on the database, and never through a server (those that
# open the database through the CLI's context refuse --api-url there).
_LOCAL_ONLY = {"worker"}


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Database to use (default: COORD_DATABASE_URL or sqlite:///.coord/coord.db).",
        ),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            help="A coord server to send the messaging, task and run commands to instead "
            "of the database (default: COORD_API_URL); they act as the agent of "
            "COORD_API_KEY.",
        ),
    ] = None,
    log_level: Annotated[
        LogLevel | None, typer.Option(help="Log level (default: COORD_LOG_LEVEL).")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Global options."""
    context.set_database_url(database_url)
    context.set_api_url(api_url)
    if ctx.invoked_subcommand in _LOCAL_ONLY:
        context.require_database()
    try:
        current = context.settings()
    except ConfigError:
        # Not reported here: the command reports it when it loads the settings, once
        # its -o/--output is parsed, so that `-o json` gets the error as JSON too.
        current = Settings.model_construct()  # the defaults, for logging meanwhile
    configure_logging(log_level or current.log_level, current.log_format)


def main() -> None:
    """Entry point of the ``coord`` script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
