"""The checking agents' tools: a security scanner for a few real patterns, a style
checker for Python and markdown, and a test runner that runs the generated tests in a
separate Python process."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SECURITY_RULES: list[tuple[str, re.Pattern[str], str]] = [
    (
        "hard-coded-secret",
        re.compile(r"""(?i)\b\w*(api_?key|secret|password|token)\w*\s*[:=]\s*['"][^'"]{6,}['"]"""),
        "a secret in the source: read it from the environment",
    ),
    ("eval", re.compile(r"\b(eval|exec)\s*\("), "eval/exec runs arbitrary code"),
    ("shell-true", re.compile(r"\bshell\s*=\s*True\b"), "shell=True lets input reach a shell"),
    ("pickle-load", re.compile(r"\bpickle\.loads?\s*\("), "unpickling runs arbitrary code"),
]
MAX_PY_LINE = 99
MAX_MD_LINE = 100


def scan_source(rel: str, text: str) -> list[dict[str, Any]]:
    """Security findings in one file: a blocking violation per match."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for rule, pattern, why in SECURITY_RULES:
            if pattern.search(line):
                found.append(
                    {"rule": rule, "file": rel, "line": number, "message": f"{rel}:{number}: {why}"}
                )
    return found


def style_problems(rel: str, text: str) -> list[str]:
    """What is untidy in a Python or markdown file (empty: nothing)."""
    limit = MAX_PY_LINE if rel.endswith(".py") else MAX_MD_LINE
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > limit and not line.startswith("|"):  # tables may be wide
            problems.append(f"{rel}:{number}: line longer than {limit}")
        if line != line.rstrip():
            problems.append(f"{rel}:{number}: trailing whitespace")
        if "\t" in line:
            problems.append(f"{rel}:{number}: tab")
    if text and not text.endswith("\n"):
        problems.append(f"{rel}: no newline at the end")
    if "\n\n\n\n" in text:
        problems.append(f"{rel}: more than two blank lines in a row")
    if rel.endswith(".md") and not text.startswith("# "):
        problems.append(f"{rel}: does not start with a # title")
    return problems


def docstrings(text: str) -> tuple[int, int]:
    """``(documented, total)`` over a module and its classes and functions."""
    tree = ast.parse(text)
    nodes: list[ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = [tree]
    nodes += [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    documented = sum(1 for n in nodes if ast.get_docstring(n))
    return documented, len(nodes)


_RESULT_LINE = re.compile(r"^(test_\w+) \(([\w.]+)\)(?:\n[^\n]*?)? \.\.\. (\w+)", re.MULTILINE)


def run_unittests(root: Path, timeout: float = 120) -> dict[str, Any]:
    """Run ``python -m unittest discover`` in ``root`` (a separate process) and
    read its verbose report: every test's outcome and the totals."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-v"],
        cwd=root,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = proc.stderr + proc.stdout
    outcomes = {name: outcome for name, _, outcome in _RESULT_LINE.findall(output)}
    ran = re.search(r"^Ran (\d+) tests?", output, re.MULTILINE)
    return {
        "exit_code": proc.returncode,
        "ran": int(ran[1]) if ran else 0,
        "passed": sorted(name for name, outcome in outcomes.items() if outcome == "ok"),
        "failed": sorted(name for name, outcome in outcomes.items() if outcome != "ok"),
        "seconds": time.perf_counter() - started,
        "output": output,
    }
