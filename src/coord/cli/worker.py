"""``coord worker``: run tasks."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback
from typing import Annotated

import typer

from coord.app import App
from coord.cli import completion, context
from coord.cli.output import Format, OutputOption, emit, stdout
from coord.errors import InvalidInput

logger = logging.getLogger("coord.cli")


def load_app(reference: str) -> App:
    """Import ``MODULE:ATTR`` (the current directory is importable) and return the App."""
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise InvalidInput(f"--app {reference!r}: use MODULE:ATTR, e.g. myproject.tasks:app")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(f"--app {reference!r}: cannot import {module_name!r}: {exc}") from exc
    except Exception as exc:  # the user's module failed while being imported: say where
        raise InvalidInput(
            f"--app {reference!r}: importing {module_name!r} failed{_where(exc)}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    found = getattr(module, attribute, None)
    if not isinstance(found, App):
        raise InvalidInput(
            f"--app {reference!r}: {module_name}.{attribute} is "
            f"{'missing' if found is None else type(found).__name__}, not a coord.App"
        )
    return found


def _where(exc: Exception) -> str:
    """`` at FILE:LINE``, the innermost place of the user's code that raised."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" at {exc.filename}:{exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "importlib" not in f.filename]
    return f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def worker(
    app_ref: Annotated[str, typer.Option("--app", "-a", help="The App to serve: MODULE:ATTR.")],
    queue: Annotated[
        list[str] | None,
        typer.Option(
            "--queue",
            "-q",
            help="Queue to serve (repeatable; default: all of the App's).",
            autocompletion=completion.queues,
        ),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, help="Tasks run at once.")
    ] = None,
    burst: Annotated[
        bool,
        typer.Option(
            help="Exit once nothing is running and no task is due within COORD_POLL_INTERVAL."
        ),
    ] = False,
    output: OutputOption = Format.TEXT,
) -> None:
    """Run a worker: claim due tasks, run their handlers, record the outcomes.

    SIGTERM or Ctrl-C stops claiming and lets running tasks finish within
    COORD_SHUTDOWN_GRACE; a second signal releases them at once. Any number of
    workers may share a database (on PostgreSQL, from any machine). The global
    --database-url, when given, replaces the database of the App's own settings.
    """
    coord_app = load_app(app_ref)
    if context.database_url_given():  # the global option wins over the App's settings
        coord_app.use_database(context.settings().database_url)
    stats = coord_app.run_worker(queues=queue or None, concurrency=concurrency, burst=burst)
    data = stats.as_dict()
    emit(data, output, lambda: stdout.print(" ".join(f"{k}={v}" for k, v in data.items())))
