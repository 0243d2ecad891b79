"""The CLI as people (and their shell scripts) type it, driven as real ``coord``
processes: ``-o jsonl`` for line-by-line readers, the noun-verb forms of the mailbox
commands, and the readable view of ``coord task get``.

These hold the CLI face's own rendering and parsing, which do not depend on the
database: one backend (the embedded SQLite) is enough here; the operations behind them
are tested on both backends by test_mailbox_cli.py and test_cli.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.harness import Templates, Workspace


def _pair(ws: Workspace) -> None:
    ws.ok("db", "upgrade")
    ws.ok("agent", "add", "coder", "--role", "code")
    ws.ok("agent", "add", "reviewer", "--role", "review")


@pytest.fixture
def pair(
    request: pytest.FixtureRequest, tmp_path: Path, templates: Templates
) -> Iterator[Workspace]:
    """Two agents, coder and reviewer, with empty mailboxes."""
    with templates.copy("pair", "sqlite", tmp_path / "work", _pair) as ws:
        yield ws


def jsonl(ws: Workspace, *args: str) -> list[Any]:
    """``coord ARGS -o jsonl``: each stdout line parsed alone (each must be JSON)."""
    out = ws.ok(*args, "-o", "jsonl").stdout
    assert out == "" or out.endswith("\n"), out
    return [json.loads(line) for line in out.splitlines()]


def test_jsonl_prints_one_object_per_item_of_a_listing(pair: Workspace) -> None:
    ws = pair
    assert jsonl(ws, "agent", "list") == ws.data("agent", "list")
    ids = [
        ws.ok("send", "coder", "reviewer", "-s", f"s{i}", "-b", "x").stdout.strip()
        for i in range(3)
    ]
    lines = jsonl(ws, "inbox", "reviewer")
    assert [m["id"] for m in lines] == ids
    assert all(isinstance(m, dict) for m in lines)


def test_jsonl_of_an_empty_listing_prints_nothing(pair: Workspace) -> None:
    result = pair.ok("inbox", "coder", "-o", "jsonl")
    assert result.stdout == ""


def test_jsonl_of_a_single_result_is_one_line(pair: Workspace) -> None:
    ws = pair
    out = ws.ok("agent", "get", "coder", "-o", "jsonl").stdout
    assert out.count("\n") == 1
    assert json.loads(out) == ws.data("agent", "get", "coder")


def test_jsonl_errors_are_one_json_line_on_stderr(pair: Workspace) -> None:
    result = pair.fails("agent", "get", "nobody", "-o", "jsonl")
    assert result.stdout == ""
    assert result.error_json()["code"] == "not_found"


def test_an_unknown_output_format_is_a_usage_error(pair: Workspace) -> None:
    result = pair.fails("agent", "list", "-o", "yaml", code=2)
    assert "jsonl" in result.stderr
