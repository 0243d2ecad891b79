"""How problems with files are told: the same words wherever coord reads or writes one
(workflow and role files, key files, payload and body files, ``--out`` folders)."""

from __future__ import annotations

from pathlib import Path


def problem(exc: OSError | UnicodeDecodeError) -> str:
    """What went wrong, without the file's name: ``No such file or directory``, or
    ``not UTF-8 text (byte 0xe9 at position 9)``."""
    if isinstance(exc, UnicodeDecodeError):
        byte = exc.object[exc.start : exc.start + 1]
        shown = f"byte 0x{byte.hex()} " if byte else ""
        return f"not UTF-8 text ({shown}at position {exc.start}): save it as UTF-8"
    return exc.strerror or str(exc) or type(exc).__name__


def unreadable(path: str | Path | None, exc: OSError | UnicodeDecodeError) -> str:
    """``cannot read PATH: PROBLEM`` (``PATH: PROBLEM`` for a file being read as text)."""
    name = "stdin" if str(path) == "-" else path
    if isinstance(exc, UnicodeDecodeError):
        return f"{name}: {problem(exc)}" if name is not None else problem(exc)
    return f"cannot read {name}: {problem(exc)}" if name is not None else problem(exc)


def unwritable(path: str | Path, exc: OSError) -> str:
    """``cannot write PATH: PROBLEM``."""
    return f"cannot write {path}: {problem(exc)}"
