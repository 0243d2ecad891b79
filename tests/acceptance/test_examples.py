"""The README's main job: ``examples/quickstart/run.py`` on the embedded default, run
as a new user runs it (a fresh directory, no settings), and run again."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.harness import Workspace, base_env

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "run.py"
FLAKY_EVERY = 25


def run_quickstart(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(QUICKSTART), *args],
        cwd=cwd,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


def number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in the summary:\n{text}"
    return float(found[1])


@pytest.mark.slow
def test_quickstart_runs_a_batch_to_the_end_and_is_idempotent(tmp_path: Path) -> None:
    first = run_quickstart(tmp_path)
    total = int(number(r"(\d+) tasks in batch", first))
    modules = total - 2  # plus one broken and one deleted input
    assert modules >= 100, "the standard library should give plenty of modules"
    assert number(r"(\d+) of them final from an earlier run", first) == 0
    assert number(r"succeeded\s+(\d+)", first) == modules
    assert number(r"retried\s+(\d+)", first) == modules // FLAKY_EVERY
    assert number(r"dead\s+(\d+)", first) == 2
    assert "broken_module.py: not valid Python" in first
    assert "deleted_module.py: no such file" in first
    assert number(r"\((\d+) tasks run by this worker", first) == total
    assert number(r"(\d+) tasks/s", first) > 0
    assert number(r"wall time\s+([\d.]+)s", first) < 60

    results = tmp_path / ".coord" / "quickstart" / "results"
    assert f"results    {Path('.coord/quickstart/results')}/" in first
    reports = sorted(results.glob("*.json"))
    assert len(reports) == modules
    report = json.loads((results / "json.decoder.py.json").read_text())
    assert len(report["sha256"]) == 64 and report["lines"] > 100 and report["classes"] >= 1
    index = json.loads((tmp_path / ".coord" / "quickstart" / "index.json").read_text())
    assert len(index) == modules

    again = run_quickstart(tmp_path)
    assert number(r"(\d+) tasks in batch", again) == total
    assert number(r"(\d+) of them final from an earlier run", again) == total
    assert number(r"\((\d+) tasks run by this worker", again) == 0
    assert number(r"succeeded\s+(\d+)", again) == modules
    assert number(r"dead\s+(\d+)", again) == 2

    # The batch lives in the embedded default database: the CLI sees it.
    ws = Workspace(tmp_path, "sqlite")
    [queue] = ws.data("queue", "list")
    assert (queue["queue"], queue["succeeded"], queue["dead"]) == ("quickstart", modules, 2)
    assert len(ws.data("dlq", "list")) == 2


def test_quickstart_fresh_batch_of_a_few_modules(tmp_path: Path) -> None:
    first = run_quickstart(tmp_path, "--limit", "30")
    assert number(r"(\d+) tasks in batch", first) == 32
    assert number(r"succeeded\s+(\d+)", first) == 30
    assert number(r"retried\s+(\d+)", first) == 1
    fresh = run_quickstart(tmp_path, "--limit", "30", "--fresh")
    assert number(r"(\d+) of them final from an earlier run", fresh) == 0
    assert number(r"\((\d+) tasks run by this worker", fresh) == 32


AGENT_TEAM = Path(__file__).resolve().parents[2] / "examples" / "agent_team" / "run.py"


def test_agent_team_reviews_files_and_alerts_the_lead_once(tmp_path: Path) -> None:
    import sysconfig

    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:30]
    risky = [
        f.name
        for f in files
        if re.search(r"\b(eval|exec)\(", f.read_text(encoding="utf-8", errors="replace"))
    ]

    def run() -> str:
        proc = subprocess.run(
            [sys.executable, str(AGENT_TEAM), "--files", "30"],
            cwd=tmp_path,
            env=base_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    first = run()
    assert "coder asked for 30 reviews (30 new)" in first
    assert "reviewer replied 30 times" in first
    assert f"lead has {len(risky)} unread security alert(s)" in first
    assert all(f"[critical] {name} calls eval/exec" in first for name in risky)
    assert "first delivered to reviewer: acked" in first
    second = run()  # keyed requests: nothing is sent, reviewed or alerted again
    assert "coder asked for 30 reviews (0 new)" in second
    assert "reviewer replied 30 times" in second
    assert "lead has 0 unread security alert(s)" in second
