"""Files the commands read (payloads, bodies, checkpoints, keys) and write (``--out``).

Reading: text is UTF-8, strictly (stdin too, for ``-``); a problem is an
``InvalidInput`` naming the option and the file. Writing: all or nothing; each file
is written to a temporary file in its own folder and renamed into place once every
file of the command is written, so a failure (or a crash) leaves no half-written file.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from coord.domain.files import unreadable, unwritable
from coord.errors import InvalidInput


def read_bytes(path: str | Path, what: str, *, field: str | None = None) -> bytes:
    """The bytes of ``path`` (stdin for ``-``); ``what`` (an option) names it in errors,
    and ``field`` is the field of the error's data."""
    try:
        return sys.stdin.buffer.read() if str(path) == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc, what, field) from None


def read_text(path: str | Path, what: str, *, field: str | None = None) -> str:
    """The UTF-8 text of ``path`` (stdin for ``-``)."""
    data = read_bytes(path, what, field=field)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _unreadable(path, exc, what, field) from None


def _unreadable(
    path: str | Path, exc: OSError | UnicodeDecodeError, what: str, field: str | None
) -> InvalidInput:
    data = {} if field is None else {"field": field}
    return InvalidInput(f"{what}: {unreadable(path, exc)}", **data)


@dataclass(frozen=True)
class Output:
    """A file to write: the option that names it, its path, its bytes and mode."""

    what: str
    path: Path
    data: bytes
    mode: int = 0o644


def write_all(outputs: Sequence[Output]) -> None:
    """Write every file, or none: each goes to a temporary file next to it first."""
    paths = [o.path.resolve() for o in outputs]
    if len(set(paths)) != len(paths):
        names = " and ".join(o.what for o in outputs)
        raise InvalidInput(f"{names} name the same file ({outputs[0].path}): give two files")
    staged: list[tuple[Output, str]] = []
    try:
        for output in outputs:
            staged.append((output, _stage(output)))
        for output, temporary in staged:
            try:
                os.replace(temporary, output.path)
            except OSError as exc:
                raise InvalidInput(f"{output.what}: {unwritable(output.path, exc)}") from None
    finally:
        for _, temporary in staged:
            with suppress(FileNotFoundError):
                os.unlink(temporary)


def _stage(output: Output) -> str:
    """Write ``output`` to a new temporary file in its folder; return its path."""
    target = output.path
    if not target.name or target.is_dir():
        raise InvalidInput(f"{output.what}: {target} is a folder: give the name of a file")
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise InvalidInput(f"{output.what}: {unwritable(target, exc)}") from None
    try:
        os.fchmod(fd, output.mode)  # mkstemp makes 0600; a public key is for others too
        with os.fdopen(fd, "wb") as handle:
            handle.write(output.data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        with suppress(OSError):
            os.unlink(temporary)
        raise InvalidInput(f"{output.what}: {unwritable(target, exc)}") from None
    return temporary
