"""Printing results: a table or text for people, JSON for programs (``-o json``, or
``-o jsonl``: one JSON object per line, for ``jq -c``, ``grep`` and line-by-line readers).

Data goes to stdout; logs, progress and errors go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text


class Format(StrEnum):
    """Output formats."""

    TEXT = "text"
    JSON = "json"
    JSONL = "jsonl"

    @property
    def machine(self) -> bool:
        """JSON of either shape: for programs, not people."""
        return self is not Format.TEXT


_state = {"format": Format.TEXT}


def _remember(value: Format) -> Format:
    _state["format"] = value
    return value


OutputOption = Annotated[
    Format,
    typer.Option(
        "--output",
        "-o",
        help="Output format: text (for people), json (one document) or jsonl (one JSON "
        "object per line: a listing's items, or the one result).",
        callback=_remember,
        case_sensitive=False,
    ),
]

# Wide when piped: a table read by grep or a script must not be wrapped or cut.
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 250)
stderr = Console(stderr=True, soft_wrap=True)


def current_format() -> Format:
    """The format chosen by the running command."""
    return _state["format"]


def to_data(value: Any) -> Any:
    """Models (and lists of them) as JSON-ready data."""
    from pydantic import BaseModel  # here: `coord --help` has no use for pydantic

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {k: to_data(v) for k, v in value.items()}
    return value


def emit(data: Any, fmt: Format, render: Callable[[], None]) -> None:
    """Print ``data`` as JSON, or call ``render`` to print it for people.

    With ``jsonl`` a list prints one compact JSON value per line (nothing when empty)
    and anything else prints as one line.
    """
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(to_data(data), indent=2, default=str) + "\n")
    elif fmt is Format.JSONL:
        found = to_data(data)
        for item in found if isinstance(found, list) else [found]:
            jsonl_line(item)
    else:
        render()


def jsonl_line(item: Any) -> None:
    """Print one value as one line of compact JSON (``-o jsonl``, ``--follow``)."""
    sys.stdout.write(json.dumps(to_data(item), default=str) + "\n")


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str) -> None:
    """Print rows as a table (or ``empty`` on stderr when there are none)."""
    if not rows:
        stderr.print(empty)
        return
    grid = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:  # ids and names must stay whole: people copy them
        grid.add_column(column, no_wrap=column in ("id", "sample", "name", "queue"))
    for row in rows:  # as plain text: no markup or emoji codes in names and subjects
        grid.add_row(*(Text("-" if v is None else str(v)) for v in row))
    stdout.print(grid)


def line(text: str) -> None:
    """Print one line of plain text on stdout (brackets and colons printed as is)."""
    stdout.print(Text(text), highlight=False)


def note(text: str) -> None:
    """Print a remark for people on stderr, as plain text."""
    stderr.print(Text(text), highlight=False)


def age(when: datetime | None) -> str | None:
    """``12s ago``-style rendering of a past time."""
    if when is None:
        return None
    seconds = (datetime.now(UTC) - when).total_seconds()
    return f"in {duration(-seconds)}" if seconds < 0 else f"{duration(seconds)} ago"


def duration(seconds: float | None) -> str | None:
    """Seconds for people."""
    if seconds is None:
        return None
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def error(message: str, data: dict[str, Any] | None = None) -> None:
    """Report a failure on stderr (as one line of JSON when ``-o json``/``jsonl`` was
    chosen)."""
    if current_format().machine:
        sys.stderr.write(json.dumps({"error": data or {"message": message}}, default=str) + "\n")
    else:
        stderr.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)
