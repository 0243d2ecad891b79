"""Versioned schema files: ``schema.sql`` (the whole current schema, for new databases)
and ``migrations/NNNN_name.sql`` (each turns version NNNN-1 into NNNN).

The runners live in each store because applying them needs the dialect's own locking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered migration file."""

    version: int
    name: str
    sql: str


@cache
def migrations_of(package: str) -> tuple[Migration, ...]:
    """Return the migrations shipped in ``package``'s ``migrations`` folder, in order."""
    found = []
    for entry in resources.files(package).joinpath("migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations of {package} are not numbered 1..N: {versions}")
    return tuple(found)


def target_version(package: str) -> int:
    """The schema version this code needs: the number of the last migration."""
    return len(migrations_of(package))


def split_statements(script: str) -> list[str]:
    """Split a schema script into statements at the ``;`` outside ``$$``-quoted
    function bodies (our schema files hold no ``;`` or ``$$`` in strings)."""
    without_comments = re.sub(r"--[^\n]*", "", script)
    statements, current = [], ""
    for index, part in enumerate(without_comments.split("$$")):
        if index % 2:  # inside a function body: keep it whole
            current += "$$" + part + "$$"
            continue
        pieces = part.split(";")
        current += pieces[0]
        for piece in pieces[1:]:
            statements.append(current)
            current = piece
    statements.append(current)
    return [s.strip() for s in statements if s.strip()]
