"""The code stays clean: ruff (lint and format), mypy --strict and the import-linter
layer contracts run as part of the test suite, so CI fails when they do."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    tool = BIN / command[0]
    if not tool.exists() and shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed (pip install -e '.[dev]')")
    executable = str(tool) if tool.exists() else command[0]
    return subprocess.run(
        [executable, *command[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


PYTHON_DIRS = tuple(d for d in ("src", "tests", "bench", "examples") if (ROOT / d).is_dir())


@pytest.mark.parametrize(
    "command",
    [
        ("ruff", "check", *PYTHON_DIRS),
        ("ruff", "format", "--check", *PYTHON_DIRS),
        ("mypy",),
        ("lint-imports",),
    ],
    ids=["ruff", "ruff-format", "mypy", "import-linter"],
)
def test_static_check(command: tuple[str, ...]) -> None:
    result = _run(*command)
    assert result.returncode == 0, result.stdout + result.stderr


WEB_STACK = ("fastapi", "starlette", "uvicorn", "pydantic")


def test_the_web_stack_is_bounded_to_what_the_tests_ran_on() -> None:
    """A fresh install cannot change the API's answers under the tests (issue 13
    item 13): each part of the web stack has an upper bound, and the installed
    version is inside it."""
    import tomllib
    from importlib.metadata import version

    from packaging.requirements import Requirement

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    found = {r.name: r for r in map(Requirement, declared)}
    for name in WEB_STACK:
        requirement = found.get(name)
        assert requirement is not None, f"{name} is not declared in pyproject.toml"
        assert any(s.operator == "<" for s in requirement.specifier), f"{name} has no upper bound"
        assert requirement.specifier.contains(version(name)), (name, version(name))
