"""``coord`` starts fast: a command imports what it needs when it runs, so ``coord
--help`` and a local ``coord task list`` load neither database driver, nor the HTTP
client, nor the web server. Checked by the modules a real process has loaded, not
by timing (the machine's load would make that flaky).
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from coord.cli.lazy import LazyCommand
from coord.cli.main import COMMANDS
from coord.cli.main import app as cli_app
from tests.acceptance.harness import Workspace

# What only some commands need: PostgreSQL, the client, the server, the engine.
HEAVY = ("psycopg", "psycopg_pool", "httpx", "httpcore", "fastapi", "starlette", "uvicorn")
ENGINE = (
    "coord.app",
    "coord.runtime.worker",
    "coord.storage.postgres",
    "coord.client",
    "coord.api",
)

# Runs the console script's entry point in this process, then reports the modules.
PROBE = """
import json, sys
sys.argv = ["coord", *json.loads(sys.argv[1])]
from coord.cli.main import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def _loaded(ws: Workspace, *args: str) -> set[str]:
    """The modules a ``coord ARGS`` process has imported by the time it ends."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        cwd=ws.cwd,
        env=ws.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = [line for line in proc.stderr.splitlines() if line.startswith("MODULES ")]
    assert report, f"no module report\n--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
    return set(json.loads(report[-1].removeprefix("MODULES ")))


def _under(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in packages or m.startswith(packages))


def test_help_imports_no_command_module(bare: Workspace) -> None:
    loaded = _loaded(bare, "--help")
    assert _under(loaded, HEAVY) == []
    assert _under(loaded, ENGINE) == []
    commands = {spec.target.partition(":")[0] for spec in COMMANDS}
    assert sorted(commands & loaded) == [], "a command's module was imported for --help"


def test_import_coord_alone_loads_nothing_heavy(bare: Workspace) -> None:
    code = "import json, sys, coord; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=bare.env, capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert _under(loaded, HEAVY) == [] and _under(loaded, ENGINE) == []


def test_a_local_task_list_imports_no_driver_client_or_server(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "work", "sqlite")
    ws.ok("db", "upgrade")
    assert ws.ok("task", "list").returncode == 0
    loaded = _loaded(ws, "task", "list")
    assert "coord.cli.tasks" in loaded and "coord.storage.sqlite.store" in loaded
    assert _under(loaded, HEAVY) == []
    assert _under(loaded, ENGINE) == []


def test_the_server_command_still_finds_its_web_stack(bare: Workspace) -> None:
    """The reverse check: the heavy imports moved into the commands, they did not vanish."""
    bare.ok("db", "upgrade")
    assert "uvicorn" in _loaded(bare, "server", "--check", "--dev")


# -- the lazy group's table ----------------------------------------------------------
def _first_paragraph(text: str | None) -> str:
    return inspect.cleandoc(text or "").split("\n\n")[0].replace("\n", " ").strip()


@pytest.mark.parametrize("spec", COMMANDS, ids=lambda s: s.name)
def test_each_listed_line_is_the_first_paragraph_of_the_command_help(spec: LazyCommand) -> None:
    group: Any = typer.main.get_command(cli_app)
    command = group.get_command(None, spec.name)  # imports the command's module
    assert command.name == spec.name
    assert spec.help == _first_paragraph(command.short_help or command.help)


def test_help_lists_every_command_once() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(cli_app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    names = [spec.name for spec in COMMANDS]
    assert len(names) == len(set(names))
    listed = [line.split()[1] for line in result.output.splitlines() if line.startswith("│ ")]
    assert [n for n in listed if n in names] == names
    assert "--install-completion" in result.output and "--show-completion" in result.output
