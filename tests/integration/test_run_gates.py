"""Gates on both backends: rubric scores, required evidence, fix loops, human
approvals and rejections, waivers; every evaluation is an event with its scores."""

from __future__ import annotations

from typing import Any

import pytest

import coord
from coord.domain.runs import PhaseState, RunState
from tests.helpers import drive_run


def gated_app(app: coord.App, scores: list[float], *, max_loops: int = 3) -> list[Any]:
    """A workflow ``gated``: ``draft`` scores ``scores[n]`` on its n-th run and
    stores ``report.md``; ``improve`` is the fix. Returns the fix calls' findings."""
    fixes: list[Any] = []

    @app.task
    async def draft(ctx: coord.Context) -> dict[str, Any]:
        await ctx.artifact("report.md", f"draft {ctx.loop}", tool="writer@1.0")
        return {"scores": {"clarity": scores[ctx.loop], "novelty": 0.9}, "loop": ctx.loop}

    @app.task
    async def improve(ctx: coord.Context) -> dict[str, Any]:
        fixes.append(ctx.findings)
        return {"advice": f"raise clarity above {ctx.findings['rubric']['clarity']}"}

    @app.task
    async def publish(ctx: coord.Context) -> str:
        return "published"

    wf = app.workflow("gated")
    wf.phase(
        "draft",
        task=draft,
        gate={
            "rubric": {"clarity": 0.7, "novelty": 0.5},
            "evidence": ["report.md"],
            "fix": improve,
            "max_loops": max_loops,
        },
    )
    wf.phase("publish", task=publish, after=["draft"])
    return fixes


def test_a_gate_that_fails_twice_then_passes(app: coord.App) -> None:
    fixes = gated_app(app, [0.4, 0.6, 0.8])
    run_id = app.runs.start("gated").id
    run = drive_run(app, run_id)

    assert run.state is RunState.SUCCEEDED
    draft = run.phase("draft")
    assert (draft.attempt, draft.loops) == (3, 2)
    assert draft.result == {"scores": {"clarity": 0.8, "novelty": 0.9}, "loop": 2}
    assert draft.gate is not None and draft.gate["passed"] is True
    assert [f["below"] for f in fixes] == [
        {"clarity": {"score": 0.4, "min": 0.7}},
        {"clarity": {"score": 0.6, "min": 0.7}},
    ]
    evaluations = [
        (e.topic, e.data["scores"]["clarity"])
        for e in app.runs.events(run_id)
        if e.topic.startswith("phase.gate.")
    ]
    assert evaluations == [
        ("phase.gate.failed", 0.4),
        ("phase.gate.failed", 0.6),
        ("phase.gate.passed", 0.8),
    ]


def test_the_phase_running_again_sees_the_findings_and_the_fix(app: coord.App) -> None:
    seen: list[Any] = []

    @app.task
    async def draft(ctx: coord.Context) -> dict[str, Any]:
        seen.append((ctx.loop, ctx.findings, ctx.fix_result))
        return {"scores": {"clarity": 0.9 if ctx.loop else 0.1}}

    @app.task
    async def improve(ctx: coord.Context) -> str:
        return f"was {ctx.results['draft']['scores']['clarity']}"

    wf = app.workflow("seen")
    wf.phase("draft", task=draft, gate={"rubric": {"clarity": 0.5}, "fix": improve})
    assert drive_run(app, app.runs.start("seen").id).state is RunState.SUCCEEDED
    assert seen[0] == (0, None, None)
    loop, findings, fix = seen[1]
    assert (loop, fix) == (1, "was 0.1")
    assert findings["below"] == {"clarity": {"score": 0.1, "min": 0.5}}


def test_out_of_loops_the_run_fails_with_the_findings(app: coord.App) -> None:
    gated_app(app, [0.1, 0.2], max_loops=1)
    run_id = app.runs.start("gated").id
    run = drive_run(app, run_id)
    assert run.state is RunState.FAILED and run.reason == "phase_failed"
    draft = run.phase("draft")
    assert draft.state is PhaseState.FAILED and draft.loops == 1
    assert draft.error is not None and draft.error["reason"] == "gate_failed"
    assert draft.error["detail"]["below"] == {"clarity": {"score": 0.2, "min": 0.7}}
    assert run.detail["phase"] == "draft"
    assert run.phase("publish").state is PhaseState.WAITING


def test_missing_evidence_and_blocking_violations_fail_the_gate(app: coord.App) -> None:
    @app.task
    async def scan(ctx: coord.Context) -> dict[str, Any]:
        return {
            "scores": {"coverage": 0.95},
            "violations": [
                {"rule": "no-secrets", "message": "API key in config.py"},
                {"rule": "style", "message": "long line", "blocking": False},
            ],
        }

    wf = app.workflow("scan")
    wf.phase("scan", task=scan, gate={"rubric": {"coverage": 0.9}, "evidence": ["sbom.json"]})
    run = drive_run(app, app.runs.start("scan").id)
    assert run.state is RunState.FAILED
    detail = run.phase("scan").error["detail"]  # type: ignore[index]
    assert detail["missing_evidence"] == ["sbom.json"]
    assert [v["rule"] for v in detail["violations"]] == ["no-secrets"]
    assert "below" not in detail


def test_a_waiver_recorded_before_the_last_failure_passes_the_gate(app: coord.App) -> None:
    gated_app(app, [0.1], max_loops=0)
    run_id = app.runs.start("gated").id
    app.runs.waive(run_id, "draft", owner="ciso", expires="7d", control="manual review of report")
    run = drive_run(app, run_id)
    assert run.state is RunState.SUCCEEDED
    draft = run.phase("draft")
    assert draft.gate is not None and draft.gate["passed"] is False
    assert draft.gate["waived"]["owner"] == "ciso"
    assert draft.waiver is not None and draft.waiver["control"] == "manual review of report"
    topics = [e.topic for e in app.runs.events(run_id)]
    assert topics.index("phase.waiver.recorded") < topics.index("phase.gate.waived")


def test_waiving_a_failed_gate_then_retrying_passes_it_without_running_it_again(
    app: coord.App,
) -> None:
    gated_app(app, [0.1], max_loops=0)
    run_id = app.runs.start("gated").id
    assert drive_run(app, run_id).state is RunState.FAILED
    app.runs.waive(run_id, "draft", owner="ciso", expires="1d", control="pen test next sprint")
    app.runs.retry(run_id)
    run = drive_run(app, run_id)
    assert run.state is RunState.SUCCEEDED
    assert run.phase("draft").attempt == 1  # not run again
    assert run.phase("publish").result == "published"


def test_waivers_are_refused_when_they_cannot_apply(app: coord.App) -> None:
    gated_app(app, [0.9])
    run_id = app.runs.start("gated").id
    with pytest.raises(coord.InvalidInput, match="no gate"):
        app.runs.waive(run_id, "publish", owner="x", expires="1d", control="c")
    with pytest.raises(coord.InvalidInput, match="no phase"):
        app.runs.waive(run_id, "nope", owner="x", expires="1d", control="c")
    with pytest.raises(coord.InvalidInput, match="expires"):
        app.runs.waive(run_id, "draft", owner="x", expires="soon", control="c")
    with pytest.raises(coord.InvalidInput, match="control"):
        app.runs.waive(run_id, "draft", owner="x", expires="1d", control=" ")
    assert app.runs.get(run_id).phase("draft").waiver is None


def approval_app(app: coord.App) -> list[str]:
    undone: list[str] = []

    @app.task
    async def build(ctx: coord.Context) -> str:
        return "v1.2.3"

    @app.task
    async def unbuild(ctx: coord.Context) -> None:
        undone.append(ctx.results["build"])

    @app.task
    async def release(ctx: coord.Context) -> str:
        return f"released {ctx.results['build']}"

    wf = app.workflow("ship")
    wf.phase("build", task=build, compensate=unbuild)
    wf.phase("release", task=release, after=["build"], gate={"approval": "human"})
    return undone


def test_human_approval_holds_the_run_until_a_person_approves(app: coord.App) -> None:
    approval_app(app)
    app.add_agent("lead", human=True)
    app.add_agent("bot")
    run_id = app.runs.start("ship").id
    run = drive_run(app, run_id)
    assert run.state is RunState.RUNNING
    assert run.phase("release").state is PhaseState.AWAITING_APPROVAL
    with pytest.raises(coord.InvalidInput, match="not a registered human"):
        app.runs.approve(run_id, "release", by="bot")
    with pytest.raises(coord.Conflict, match="not awaiting approval"):
        app.runs.approve(run_id, "build", by="lead")
    app.runs.approve(run_id, "release", by="lead")
    run = app.runs.get(run_id)
    assert run.state is RunState.SUCCEEDED
    assert run.phase("release").approval["by"] == "lead"  # type: ignore[index]
    assert run.phase("release").result == "released v1.2.3"
    topics = [e.topic for e in app.runs.events(run_id)]
    assert topics.index("phase.approval.requested") < topics.index("phase.approved")


def test_a_rejection_fails_the_run_and_compensates(app: coord.App) -> None:
    undone = approval_app(app)
    app.add_agent("lead", human=True)
    run_id = app.runs.start("ship").id
    drive_run(app, run_id)
    with pytest.raises(coord.InvalidInput, match="reason"):
        app.runs.reject(run_id, "release", by="lead", reason="")
    app.runs.reject(run_id, "release", by="lead", reason="changelog missing")
    run = drive_run(app, run_id)
    assert run.state is RunState.FAILED
    assert run.phase("release").error["detail"]["reason"] == "changelog missing"  # type: ignore[index]
    assert run.phase("build").state is PhaseState.COMPENSATED
    assert undone == ["v1.2.3"]
