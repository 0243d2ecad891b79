"""How a failed command ends: one ``error:`` line on stderr (a JSON object under
``-o json``) and exit code 1, whatever raised.

coord's own errors carry their message. The failures a user can cause without coord
raising one of its own (a file that cannot be read or written, text that is not
UTF-8, a file that is not YAML or JSON, a value out of range) are turned into the
same one line. Anything else is a bug in coord: it gets one line too, saying so;
``--log-level DEBUG`` shows where it happened. Usage errors are left to Typer
(exit 2), and so are ``typer.Exit`` and a closed stdout (``coord ... | head``).
"""

from __future__ import annotations

import errno
import json
import logging
from typing import Any

import typer
from typer.core import TyperGroup

from coord.cli.output import error
from coord.domain.files import problem
from coord.errors import CoordError, InvalidInput

logger = logging.getLogger("coord.cli")

# Raised on purpose by Typer and the commands, and handled by Typer.
_TYPER = (typer.Exit, typer.Abort, typer.TyperException)


def as_coord_error(exc: Exception) -> CoordError:
    """The coord error a failure is reported as."""
    if isinstance(exc, CoordError):
        return exc
    if isinstance(exc, UnicodeDecodeError):
        return InvalidInput(f"the input is {problem(exc)}")
    if isinstance(exc, OSError):
        name = exc.filename
        return InvalidInput(problem(exc) if name is None else f"{name}: {problem(exc)}")
    import yaml  # here: a failure is rare, and PyYAML costs every command's start

    if isinstance(exc, yaml.YAMLError):
        mark = getattr(exc, "problem_mark", None)
        where = "" if mark is None else f" (line {mark.line + 1})"
        return InvalidInput(f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}")
    if isinstance(exc, json.JSONDecodeError):
        return InvalidInput(f"not valid JSON: {exc}")
    if isinstance(exc, ValueError | ArithmeticError):
        return InvalidInput(f"invalid value: {exc}")
    return CoordError(
        f"unexpected {type(exc).__name__}: {exc} (a bug in coord: run the command again "
        "with --log-level DEBUG to see where it happened, and report it)",
        type=type(exc).__name__,
    )


def report(exc: Exception) -> None:
    """Print ``exc`` as the command's one error line."""
    failure = as_coord_error(exc)
    if failure is not exc:
        logger.debug("the command failed", exc_info=exc)
    error(failure.message, failure.to_dict())


class CoordGroup(TyperGroup):
    """The ``coord`` group: every sub-command runs inside it, so its failures are
    reported here, in the script and under Typer's ``CliRunner`` alike."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; report any failure as one line and exit 1."""
        try:
            return super().invoke(ctx)
        except _TYPER:
            raise
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # the reader went away: Typer ends quietly
                raise
            report(exc)
        except Exception as exc:
            report(exc)
        raise typer.Exit(1)
