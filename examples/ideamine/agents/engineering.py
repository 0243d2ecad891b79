"""Stages 7-10: build the package, scan it and write the stories side by side,
run its tests, review the style of everything written."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import coord
from agents.checks import docstrings, run_unittests, scan_source, style_problems
from agents.codegen import package_files, test_name
from agents.common import Workspace, bill, digest, listing, markdown, wrap, write

# -- 7. build ----------------------------------------------------------------------------


def build(ctx: coord.SyncContext, version: str = "0.1.0") -> dict[str, Any]:
    """Generate the package the architecture describes, with its tests, into
    ``build/`` (from scratch: a retry starts clean)."""
    ws = Workspace.of(ctx)
    prd, bizdev, arch = ctx.results["prd"], ctx.results["bizdev"], ctx.results["architecture"]
    product = {**prd, "version": version}
    files = package_files(product, prd["features"], bizdev["tiers"], prd["metrics"])
    missing = [c["module"] for c in arch["components"] if c["module"] not in files]
    if missing:
        raise coord.FatalError(f"the architecture names modules the build cannot write: {missing}")
    root = ws.root / "build"
    shutil.rmtree(root, ignore_errors=True)
    inputs = [prd["digest"], bizdev["digest"], arch["digest"]]
    manifest = {}
    for rel, text in files.items():
        compile(text, rel, "exec")  # a syntax error fails the build, not QA
        manifest[rel] = write(ws.path("build", rel), text)
        ctx.artifact(rel, text, tool="codegen@1.0", inputs=inputs)
    summary = {
        "package": prd["package"],
        "version": version,
        "root": str(root),
        "files": manifest,
        "tests": {f["id"]: test_name(f) for f in prd["features"]},
        "plans": {
            f["id"]: [t["name"] for t in bizdev["tiers"] if f["id"] in t["features"]]
            for f in prd["features"]
        },
    }
    write(ws.path("reports", "build.json"), json.dumps(summary, indent=2) + "\n")
    bill(ctx, json.dumps(inputs) + json.dumps(arch), "".join(files.values()))
    return summary


# -- 8. security and stories, side by side -----------------------------------------------


def scan(ctx: coord.SyncContext) -> dict[str, Any]:
    """Scan every file of the build for secrets, eval/exec, shell=True and
    unpickling; heartbeat after each file. Findings are blocking violations."""
    ws = Workspace.of(ctx)
    root = Path(ctx.results["build"]["root"])
    files = sorted(p for p in root.rglob("*") if p.is_file())
    findings: list[dict[str, Any]] = []
    read = []
    for n, path in enumerate(files, start=1):
        text = path.read_text("utf-8", errors="replace")
        read.append(digest(path.read_bytes()))
        findings += scan_source(path.relative_to(root).as_posix(), text)
        ctx.heartbeat(progress=n / len(files), message=f"scanned {path.name}")
    report = json.dumps({"files": len(files), "findings": findings}, indent=2) + "\n"
    write(ws.path("reports", "security.json"), report)
    ctx.artifact("security-report.json", report, tool="scanner@1.0", inputs=read)
    bill(ctx, "", report)
    return {"scores": {"files_scanned": len(files)}, "violations": findings}


def write_story(ctx: coord.SyncContext) -> dict[str, Any]:
    """One user story per PRD requirement (the story loop), with acceptance
    criteria that name the plans and the test the build wrote for it."""
    ws = Workspace.of(ctx)
    feature, prd, built = ctx.item, ctx.results["prd"], ctx.results["build"]
    facts = ws.read_json("intake", "brief.json")["facts"]
    index = ctx.item_index or 0
    goal, _, target = prd["metrics"][index % len(prd["metrics"])].partition(": ")
    plans = built["plans"][feature["id"]]
    criteria = [
        f"{feature['id']} is in the catalog with priority {feature['priority']}",
        f"Plan{'s' * (len(plans) > 1)} {listing(plans)} include{'s' * (len(plans) == 1)} "
        f"{feature['id']}",
        f"The test `{built['tests'][feature['id']]}` passes",
    ]
    text = markdown(
        [
            f"# {feature['id']}: {feature['name']}",
            "",
            *wrap(
                f"As one of the {facts['audience']}, I want to {feature['name'].lower()}, "
                f"so that {goal[:1].lower()}{goal[1:]}" + (f" ({target})." if target else ".")
            ),
            "",
            "## Acceptance criteria",
            "",
            *[f"- {c}" for c in criteria],
            "",
            "## Implemented in",
            "",
            f"- `{prd['package']}/catalog.py`",
        ]
    )
    path = ws.path("docs", "stories", f"{feature['id']}.md")
    write(path, text)
    ctx.artifact(f"story-{feature['id']}.md", text, tool="story-writer@1.0", inputs=[prd["digest"]])
    bill(ctx, json.dumps(feature) + goal, text)
    return {
        "feature": feature["id"],
        "path": str(path),
        "test": built["tests"][feature["id"]],
        "scores": {"criteria": len(criteria)},
    }


# -- 9-10. QA and aesthetics -------------------------------------------------------------


def run_tests(ctx: coord.SyncContext) -> dict[str, Any]:
    """Run the generated tests in a separate Python (once: a retry reuses the
    recorded run) and check that every story's test passed."""
    ws = Workspace.of(ctx)
    run = ctx.step("unittest", run_unittests, ws.root / "build")
    stories = ctx.results["stories"]
    covered = [s["feature"] for s in stories if s["test"] in run["passed"]]
    ran = max(run["ran"], 1)
    report = run["output"] + f"\nstories covered: {len(covered)} of {len(stories)}\n"
    write(ws.path("reports", "qa.txt"), report)
    write(
        ws.path("reports", "qa.json"),
        json.dumps({k: v for k, v in run.items() if k != "output"}, indent=2) + "\n",
    )
    version = ".".join(map(str, sys.version_info[:3]))
    ctx.artifact("qa-report.txt", report, tool=f"unittest@{version}")
    ctx.charge(tool_seconds=round(run["seconds"], 3))
    bill(ctx, "", report)
    return {
        "scores": {
            "pass_rate": round(len(run["passed"]) / ran, 3),
            "story_coverage": round(len(covered) / max(len(stories), 1), 3),
        },
        "ran": run["ran"],
        "passed": len(run["passed"]),
        "failed": run["failed"],
    }


def lint(ctx: coord.SyncContext) -> dict[str, Any]:
    """Check the style of everything the pipeline wrote (code and docs) and the
    docstrings of the code; untidy lines are reported as non-blocking violations,
    the gate decides on the scores."""
    ws = Workspace.of(ctx)
    files = sorted([*(ws.root / "build").rglob("*.py"), *(ws.root / "docs").rglob("*.md")])
    problems: list[str] = []
    clean = documented = definitions = 0
    for path in files:
        text = path.read_text("utf-8")
        found = style_problems(path.relative_to(ws.root).as_posix(), text)
        problems += found
        clean += not found
        if path.suffix == ".py":
            has, total = docstrings(text)
            documented, definitions = documented + has, definitions + total
    scores = {
        "style": round(clean / max(len(files), 1), 3),
        "docstrings": round(documented / max(definitions, 1), 3),
    }
    report = markdown(
        [
            "# Aesthetic review",
            "",
            f"- {len(files)} files, {clean} without a style problem",
            f"- {documented} of {definitions} modules, classes and functions documented",
            "",
            *[f"- {p}" for p in problems],
        ]
    )
    write(ws.path("reports", "aesthetic.md"), report)
    ctx.artifact("aesthetic-report.md", report, tool="lint@1.0")
    bill(ctx, "", report)
    return {
        "scores": scores,
        "violations": [{"rule": "style", "message": p, "blocking": False} for p in problems],
    }
