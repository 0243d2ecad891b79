"""Named SQL queries kept in ``.sql`` files next to each store, loaded once.

A file holds blocks that start with ``-- name: query_name``; comments after the name
line document the query. SQL is never assembled from input: values always travel
as bound parameters.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    """Split ``text`` into ``{name: sql}``; raise ``ValueError`` on duplicate names."""
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        queries[name] = body.strip().rstrip(";")
    return queries


@cache
def load_queries(package: str, filename: str = "queries.sql") -> dict[str, str]:
    """Return the named queries of ``package``'s ``filename``."""
    return parse_queries(resources.files(package).joinpath(filename).read_text("utf-8"))


@cache
def read_sql(package: str, filename: str) -> str:
    """Return the text of one SQL file shipped in ``package``."""
    return resources.files(package).joinpath(filename).read_text("utf-8")


def specialize(
    queries: dict[str, str],
    constants: dict[str, str],
    placeholder: str,
    variants: dict[str, str],
) -> dict[str, str]:
    """Fill load-time constants (``{name}``) into queries, and expand each query that
    uses ``{placeholder}`` into one query per variant, named ``<query>_<variant>``.

    This only ever inserts fixed SQL fragments written in the store's code, never
    input, so the result is as static as the file itself.
    """
    out: dict[str, str] = {}
    token = "{" + placeholder + "}"
    for name, text in queries.items():
        sql = text
        for key, value in constants.items():
            sql = sql.replace("{" + key + "}", value)
        if token in sql:
            for variant, fragment in variants.items():
                out[f"{name}_{variant}"] = sql.replace(token, fragment)
        else:
            out[name] = sql
    return out


def take_fragment(queries: dict[str, str], name: str) -> str:
    """Remove the block ``name`` from ``queries`` and return it without its comment
    lines: a piece of SQL that several queries share (filled in as ``{name}``)."""
    lines = queries.pop(name).splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("--"))


def fill(queries: dict[str, str], constants: dict[str, str]) -> dict[str, str]:
    """Fill load-time constants (``{name}``: fixed SQL fragments of the store's own
    code, never input) into every query."""
    out = {}
    for name, text in queries.items():
        sql = text
        for key, value in constants.items():
            sql = sql.replace("{" + key + "}", value)
        out[name] = sql
    return out
