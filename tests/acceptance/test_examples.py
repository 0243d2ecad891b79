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


IDEAMINE = Path(__file__).resolve().parents[2] / "examples" / "ideamine" / "run.py"


def run_ideamine(cwd: Path, workdir: Path) -> str:
    proc = subprocess.run(
        [sys.executable, str(IDEAMINE), "--workdir", str(workdir)],
        cwd=cwd,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


def test_ideamine_runs_twelve_stages_from_brief_to_deployed_beta_once(tmp_path: Path) -> None:
    import coord

    workdir = tmp_path / "work"
    first = run_ideamine(tmp_path, workdir)
    run_id = re.search(r"started run (\S+)", first)
    assert run_id, first
    assert f"run {run_id[1]}: succeeded" in first
    assert f"coord gate approve {run_id[1]} release --by lead" in first

    dossier = workdir / "dossier"
    run = json.loads((dossier / "run.json").read_text())
    phases = {p["name"]: p for p in run["phases"]}
    assert len(phases) == 13 and all(p["state"] == "succeeded" for p in phases.values())
    assert (phases["critique"]["attempt"], phases["critique"]["loops"]) == (2, 1)
    assert phases["ideation"]["items"] == 4 and phases["stories"]["items"] == 4
    assert phases["release"]["approval"]["by"] == "lead"
    gates = [
        (e["topic"], e["data"]["phase"]) for e in json.loads((dossier / "gates.json").read_text())
    ]
    critique = [topic for topic, phase in gates if phase == "critique"]
    assert critique == ["phase.gate.failed", "phase.gate.passed"]
    assert ("phase.approved", "release") in gates
    assert phases["qa"]["result"]["passed"] == phases["qa"]["result"]["ran"] > 4

    events = (dossier / "events.jsonl").read_text().splitlines()
    assert json.loads(events[-1])["topic"] == "run.succeeded"
    stored = dossier / "artifacts"
    artifacts = {p.relative_to(stored).as_posix() for p in stored.rglob("*") if p.is_file()}
    assert {
        "critique/critique.md",
        "critique/critique.md.attempt2",
        "prd/PRD.md",
        "qa/qa-report.txt",
        "release/standup_digest-0.1.0.tar.gz",
    } <= artifacts
    cost = json.loads((dossier / "cost.json").read_text())["total"]
    assert cost["over"] == {} and 0 < cost["usage"]["tokens"] <= cost["budget"]["tokens"]
    assert 0 < cost["usage"]["usd"] <= cost["budget"]["usd"]

    deployed = workdir / "deployed" / "standup_digest-0.1.0"
    assert (deployed / "standup_digest" / "cli.py").is_file()
    assert json.loads((deployed / "DEPLOYED.json").read_text())["release"] == deployed.name
    assert "smoke test: Standup digest 0.1.0: team plan" in first

    with coord.App(f"sqlite:///{workdir / 'coord.db'}") as app:
        history = len(app.runs.events(run_id[1]))
    again = run_ideamine(tmp_path, workdir)  # the key finds the run: nothing runs again
    assert f"found run {run_id[1]}" in again and "succeeded: what ran is not run again" in again
    assert "worker: 0 task attempts" in again and "awaits a human approval" not in again
    assert "(written earlier)" in again
    with coord.App(f"sqlite:///{workdir / 'coord.db'}") as app:
        assert len(app.runs.events(run_id[1])) == history
        assert app.runs.get(run_id[1]).phase("critique").attempt == 2
