"""Workflow runs from the command line, on SQLite and PostgreSQL: validate and plan a
YAML definition, start a run (idempotently), let a worker carry it through a gate
that fails once, approve it as a person, read its cost, events and dossier; and
what bad input gets."""

from __future__ import annotations

import json

import pytest

from tests.acceptance.harness import Workspace, is_task_id

BROKEN = """\
name: broken
phases:
  a: {task: draft, timebox: 3 fortnights}
  b: {task: publish, after: [a, c]}
  c: {task: nothing_like_it, after: [b]}
"""


@pytest.fixture
def ready(prepared: Workspace) -> Workspace:
    """The test app registered, with a human lead."""
    prepared.ok("agent", "add", "lead", "--human")
    return prepared


def test_a_run_goes_through_its_gate_and_an_approval(ready: Workspace) -> None:
    ws = ready
    assert (
        "ok: workflow 'release', 2 phases" in ws.ok("workflow", "validate", "release.yaml").stdout
    )
    plan = ws.ok("run", "plan", "release.yaml").stdout
    assert "score quality >= 0.7; artifact notes.md" in plan and "human approval" in plan

    run = ws.ok("run", "start", "release.yaml", "--input", '{"topic": "coord"}', "--key", "r1")
    run_id = run.stdout.strip()
    assert is_task_id(run_id)
    again = ws.data("run", "start", "release", "--input", '{"topic": "coord"}', "--key", "r1")
    assert again == {"id": run_id, "created": False}
    recorded = ws.data("workflow", "show", "release")  # the start recorded the file's
    assert recorded["name"] == "release" and sorted(recorded["phases"]) == ["draft", "publish"]
    assert recorded["definition"]["phases"]["publish"]["after"] == ["draft"]
    unknown = ws.fails("workflow", "show", "no_such_workflow")
    assert "no workflow 'no_such_workflow' is registered" in unknown.stderr

    ws.burst()
    shown = ws.data("run", "get", run_id)
    assert shown["state"] == "running"
    draft, publish = shown["phases"]
    assert (draft["state"], draft["attempt"], draft["loops"]) == ("succeeded", 2, 1)
    assert draft["gate"]["scores"] == {"quality": pytest.approx(0.8)}
    assert publish["state"] == "awaiting_approval"
    text = ws.ok("run", "get", run_id).stdout
    assert f"coord gate approve {run_id} publish --by NAME" in text

    refused = ws.fails("gate", "approve", run_id, "publish", "--by", "intruder")
    assert "not a registered human" in refused.stderr
    ws.ok("gate", "approve", run_id, "publish", "--by", "lead")
    done = ws.data("run", "get", run_id)
    assert done["state"] == "succeeded"
    assert done["phases"][1]["result"] == "published draft 1"
    assert done["phases"][1]["approval"]["by"] == "lead"

    cost = ws.data("run", "cost", run_id)
    assert cost["total"]["usage"]["tokens"] == 1000 and cost["total"]["budget"] == {"tokens": 5000}
    assert "draft" in ws.ok("run", "cost", run_id).stdout
    topics = [e["topic"] for e in ws.data("run", "events", run_id)]
    assert topics.count("phase.gate.failed") == 1 and topics.count("phase.gate.passed") == 1
    assert topics[-1] == "run.succeeded"
    assert [r["id"] for r in ws.data("run", "list", "--state", "succeeded")] == [run_id]

    ws.ok("run", "dossier", run_id, "--out", "dossier")
    notes = sorted(p.name for p in (ws.cwd / "dossier" / "artifacts" / "draft").iterdir())
    assert notes == ["notes.md", "notes.md.attempt2"]
    assert (
        ws.cwd / "dossier" / "artifacts" / "draft" / "notes.md"
    ).read_text() == "draft 0 of coord"
    assert json.loads((ws.cwd / "dossier" / "run.json").read_text())["state"] == "succeeded"
    ws.fails("run", "dossier", run_id, "--out", "dossier")  # not over an earlier one

    listed = ws.data("run", "artifacts", run_id)
    assert [(a["phase"], a["name"], a["phase_attempt"]) for a in listed] == [
        ("draft", "notes.md", 1),
        ("draft", "notes.md", 2),
    ]
    assert "notes.md" in ws.ok("run", "artifacts", run_id).stdout
    first = listed[0]["digest"]
    assert ws.ok("run", "artifact", run_id, first).stdout == "draft 0 of coord"
    saved = ws.data("run", "artifact", run_id, first, "--out", "notes.md")
    assert saved == {"digest": first, "size": 16, "out": "notes.md"}
    assert (ws.cwd / "notes.md").read_text() == "draft 0 of coord"
    unknown = ws.fails("run", "artifact", run_id, "sha256:" + "0" * 64)
    assert f"run {run_id} has no artifact sha256:" in unknown.stderr
    assert "is not an artifact digest" in ws.fails("run", "artifact", run_id, "notes.md").stderr


def test_a_rejected_release_fails_the_run_and_rolls_back(ready: Workspace) -> None:
    ws = ready
    run_id = ws.ok("run", "start", "release", "--input", '{"topic": "x"}').stdout.strip()
    ws.burst()
    ws.ok("gate", "reject", run_id, "publish", "--by", "lead", "--reason", "too early")
    ws.burst()  # runs the rollback
    run = ws.data("run", "get", run_id)
    assert run["state"] == "failed" and run["reason"] == "phase_failed"
    assert [p["state"] for p in run["phases"]] == ["succeeded", "failed"]
    assert not (ws.cwd / "unpublished").exists()  # publish never succeeded: nothing to undo
    retried = ws.fails("run", "pause", run_id)
    assert "has failed: only a running run can be paused" in retried.stderr


def test_bad_definitions_and_bad_input_are_refused_with_the_reason(ready: Workspace) -> None:
    ws = ready
    (ws.cwd / "broken.yaml").write_text(BROKEN)
    result = ws.fails("workflow", "validate", "broken.yaml", "--app", "tasks:app")
    assert "phase 'a': timebox: invalid duration '3 fortnights'" in result.stderr
    assert "(line 3)" in result.stderr
    assert "phase 'c': task: unknown task 'nothing_like_it' (line 5)" in result.stderr
    assert "cycle: b -> c -> b" in result.stderr
    problems = ws.run("workflow", "validate", "broken.yaml", "-o", "json").error_json()
    assert problems["code"] == "invalid_workflow"
    assert {p["line"] for p in problems["problems"]} == {3, 4}
    ws.fails("run", "start", "broken.yaml")
    ws.fails("run", "start", "release", "--input", "{not json")
    ws.fails("run", "start", "no_such_workflow")
    ws.fails("run", "get", "not-a-run-id")
    ws.fails("run", "get", "01a20000-0000-7000-8000-000000000000")
    assert ws.data("run", "list") == []  # nothing was started

    run_id = ws.ok("run", "start", "release", "--input", '{"topic": "t"}').stdout.strip()
    ws.fails("budget", "set", run_id, "tokens=lots")
    ws.fails("budget", "set", f"{run_id}:nope", "tokens=5")
    ws.fails(
        "gate",
        "waive",
        run_id,
        "draft",
        "--owner",
        "o",
        "--expires",
        "never",
        "--control",
        "c",
        code=2,
    )
    ws.fails("run", "retry", run_id)
    ws.fails("run", "resume", run_id)
    assert ws.data("run", "get", run_id)["budget"] == {"tokens": 5000}


def test_start_wait_returns_when_the_run_needs_a_person(ready: Workspace) -> None:
    ws = ready
    worker = ws.popen("worker", "--app", "tasks:app")
    try:
        waited = ws.data(
            "run", "start", "release", "--input", '{"topic": "w"}', "--wait", "--timeout", "60"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert waited["state"] == "running"
    assert waited["phases"][1]["state"] == "awaiting_approval"
