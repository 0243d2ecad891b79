"""The ``coord`` command: global options, sub-commands, and error handling.

Exit codes: 0 success, 1 the operation failed (the message says why), 2 bad usage.
Failures are reported by :class:`coord.cli.failures.CoordGroup`, one line each.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from coord import __version__
from coord.cli.lazy import LazyCommand, LazyGroup
from coord.observability.logging import LogLevel, configure_logging

# Every sub-command, where it lives and its line in ``coord --help``, in the order
# listed there. A command's module is imported when the command is used, never at
# start (see coord.cli.lazy); tests/acceptance/test_cli_start.py holds each line equal to
# the command's own help.
COMMANDS = (
    LazyCommand(
        "config", "coord.cli.config:app", "Show and check coord's settings (COORD_* variables)."
    ),
    LazyCommand("db", "coord.cli.db:app", "Create, upgrade and inspect the database schema."),
    LazyCommand("task", "coord.cli.tasks:app", "Enqueue, list, inspect and cancel tasks."),
    LazyCommand(
        "queue", "coord.cli.queues:queue_app", "See queues: tasks per state, oldest waiting."
    ),
    LazyCommand(
        "dlq", "coord.cli.queues:dlq_app", "Dead letters: tasks out of attempts or failed fatally."
    ),
    LazyCommand(
        "worker",
        "coord.cli.worker:worker",
        "Run a worker: claim due tasks, run their handlers, record the outcomes.",
    ),
    LazyCommand(
        "server",
        "coord.cli.server:server",
        "Serve the REST API under /api/v1 (OpenAPI at /openapi.json, docs at /docs).",
    ),
    LazyCommand(
        "agent",
        "coord.cli.agents:app",
        "Register, list, show and remove agents (each has a mailbox).",
    ),
    LazyCommand("subscribe", "coord.cli.agents:subscribe", "Subscribe an agent to a topic."),
    LazyCommand(
        "unsubscribe", "coord.cli.agents:unsubscribe", "End an agent's subscription to a topic."
    ),
    LazyCommand(
        "send", "coord.cli.messages:send", "Send a message from agent FROM to TO and print its id."
    ),
    LazyCommand(
        "inbox", "coord.cli.inbox:inbox", "List an agent's messages, or follow them as they arrive."
    ),
    LazyCommand(
        "read",
        "coord.cli.messages:read",
        "Show one message of AGENT's mailbox, with its body, and mark it read.",
    ),
    LazyCommand(
        "ack",
        "coord.cli.messages:ack",
        "Acknowledge messages of AGENT's mailbox: the agent is done with them.",
    ),
    LazyCommand(
        "thread",
        "coord.cli.messages:thread",
        "Show a whole thread with each recipient's state, oldest first.",
    ),
    LazyCommand(
        "message",
        "coord.cli.messages:message_app",
        "Look at one message: its delivery state per recipient, its events.",
    ),
    LazyCommand("workflow", "coord.cli.workflows:app", "Validate and list workflow definitions."),
    LazyCommand("run", "coord.cli.runs:app", "Plan, start, inspect and steer workflow runs."),
    LazyCommand("gate", "coord.cli.gates:gate_app", "Approve, reject or waive the gates of a run."),
    LazyCommand(
        "budget", "coord.cli.gates:budget_app", "Set the budgets of a run or of its phases."
    ),
    LazyCommand(
        "key", "coord.cli.keys:app", "Create, list and revoke API keys (for the REST API)."
    ),
    LazyCommand(
        "secret",
        "coord.cli.secrets:app",
        "Store, list, delete and re-encrypt secrets (values are never shown).",
    ),
    LazyCommand(
        "audit",
        "coord.cli.audit:app",
        "The tamper-evident audit ledger: every event sealed into a hash chain, verified on "
        "demand and against signed checkpoints.",
    ),
)


class Commands(LazyGroup):
    """The ``coord`` group: the sub-commands of :data:`COMMANDS`, imported when used."""

    lazy = COMMANDS


app = typer.Typer(
    name="coord",
    cls=Commands,
    help="coord: durable tasks, agent mailboxes and workflow runs. "
    "Embedded on SQLite by default; PostgreSQL with COORD_DATABASE_URL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


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
    # Imported here, not at the top: they load the settings (pydantic), which
    # `coord --help` and shell completion of command names have no use for.
    from coord.cli import context
    from coord.errors import ConfigError
    from coord.settings import Settings

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
