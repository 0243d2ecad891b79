"""The quickstart's one task: analyse a Python source file.

For each file it computes a SHA-256 digest, line and word counts, the number of
functions and classes, the most frequent identifiers and a one-line summary (the
module docstring), writes them to ``OUT_DIR/<name>.json`` and returns the headline
numbers as the task's result.

Failures are classified the way coord expects: a file that is missing or is not valid
Python can never succeed, so it raises :class:`coord.FatalError` (straight to the
dead letters); a passing glitch raises :class:`coord.TransientError` (retried with
backoff). The payload flag ``flaky`` simulates such a glitch on the first attempt.
"""

from __future__ import annotations

import ast
import hashlib
import json
import keyword
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import coord

QUEUE = "quickstart"
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{3,}")
COMMON = frozenset({"self", "return", "None", "True", "False", "import", "from", "def", "class"})

# The database comes from COORD_DATABASE_URL, else the embedded default
# sqlite:///.coord/coord.db (relative to the current directory).
app = coord.App()


@app.task(queue=QUEUE, retries=3, retry_backoff="200ms", retry_backoff_max="2s", timeout="1m")
def analyze(
    ctx: coord.SyncContext, path: str, name: str, out_dir: str, flaky: bool = False
) -> dict[str, Any]:
    """Analyse the Python file at ``path``; write ``out_dir/name.json``."""
    started = time.perf_counter()
    if flaky and ctx.attempt == 1:
        raise coord.TransientError("simulated glitch: the file share timed out", retry_after=0.3)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise coord.FatalError(f"{name}: no such file (deleted after it was enqueued?)") from None
    text = data.decode("utf-8", errors="replace")
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise coord.FatalError(f"{name}: not valid Python: {exc.msg} (line {exc.lineno})") from None

    nodes = list(ast.walk(tree))
    words = [w for w in IDENTIFIER.findall(text) if w not in COMMON and not keyword.iskeyword(w)]
    docstring = (ast.get_docstring(tree) or "").strip()
    report = {
        "name": name,
        "path": path,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "lines": len(text.splitlines()),
        "words": len(text.split()),
        "functions": sum(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) for n in nodes),
        "classes": sum(isinstance(n, ast.ClassDef) for n in nodes),
        "top_identifiers": Counter(words).most_common(5),
        "summary": docstring.splitlines()[0] if docstring else "",
        "attempt": ctx.attempt,
    }
    output = Path(out_dir) / f"{name}.json"
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    ctx.charge(tool_seconds=time.perf_counter() - started)
    headline = ("sha256", "lines", "words", "functions", "classes", "summary")
    return {**{k: report[k] for k in headline}, "output": str(output)}
