"""Workflow definitions: YAML and the Python builder give the same validated model;
every problem is reported with its phase and, for YAML, its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord.domain.workflows import WorkflowProblems, parse_workflow
from coord.workflows.definitions import Workflow, load_yaml_file, load_yaml_text

IDEAMINE = """\
name: ideamine
budget: {tokens: 500000, usd: 20}
phases:
  intake:    {task: intake, timebox: 30m, budget: {tokens: 20000}}
  ideation:  {task: ideate, after: [intake], fan_out: {over: ideas, parallelism: 4}}
  critique:
    task: critique
    after: [ideation]
    gate: {rubric: {novelty: 0.6, feasibility: 0.7}, fix: improve, max_loops: 3}
  build:     {task: build, after: [critique]}
  security:  {task: scan, after: [build], heartbeat: 60s, stall_after: 3}
  stories:   {task: stories, after: [build]}
  release:   {task: release, after: [security, stories], gate: {approval: human}}
  deploy:    {task: deploy, after: [release], compensate: rollback}
"""


def test_the_issue_example_parses_into_the_model() -> None:
    spec = load_yaml_text(IDEAMINE)
    assert spec.name == "ideamine"
    assert spec.budget.tokens == 500_000 and spec.budget.usd_micros == 20_000_000
    intake = spec.phase("intake")
    assert intake.timebox == 1800 and intake.budget.tokens == 20_000
    ideation = spec.phase("ideation")
    assert ideation.fan_out is not None and ideation.fan_out.parallelism == 4
    gate = spec.phase("critique").gate
    assert gate is not None and gate.rubric == {"novelty": 0.6, "feasibility": 0.7}
    assert (gate.fix, gate.max_loops) == ("improve", 3)
    assert spec.phase("security").heartbeat == 60 and spec.phase("security").stall_after == 3
    assert spec.phase("release").gate.approval == "human"  # type: ignore[union-attr]
    assert spec.phase("deploy").compensate == "rollback"
    assert spec.groups() == [
        ["intake"],
        ["ideation"],
        ["critique"],
        ["build"],
        ["security", "stories"],
        ["release"],
        ["deploy"],
    ]
    assert spec.descendants("build") == ["security", "stories", "release", "deploy"]
    assert spec.task_names() >= {"improve", "rollback", "scan"}


def test_the_builder_gives_the_same_model_as_yaml() -> None:
    wf = Workflow("ideamine", budget={"tokens": 500000, "usd": 20})
    wf.phase("intake", task="intake", timebox="30m", budget={"tokens": 20000})
    wf.phase(
        "ideation", task="ideate", after=["intake"], fan_out={"over": "ideas", "parallelism": 4}
    )
    wf.phase(
        "critique",
        task="critique",
        after=["ideation"],
        gate={"rubric": {"novelty": 0.6, "feasibility": 0.7}, "fix": "improve", "max_loops": 3},
    )
    wf.phase("build", task="build", after=["critique"])
    wf.phase("security", task="scan", after=["build"], heartbeat="60s", stall_after=3)
    wf.phase("stories", task="stories", after=["build"])
    wf.phase("release", task="release", after=["security", "stories"], gate={"approval": "human"})
    wf.phase("deploy", task="deploy", after=["release"], compensate="rollback")
    assert wf.spec() == load_yaml_text(IDEAMINE)


def problems(text: str, **kwargs: object) -> list[str]:
    with pytest.raises(WorkflowProblems) as caught:
        load_yaml_text(text, **kwargs)  # type: ignore[arg-type]
    return caught.value.describe_all()


def test_every_problem_names_its_phase_and_line() -> None:
    text = """\
name: broken
budget: {tokens: -1}
phases:
  a: {task: t, timebox: soon}
  b:
    task: t
    after: [a, ghost]
  c: {task: t, after: [d]}
  d: {task: t, after: [c]}
  e: {task: t, gate: {rubric: {x: 0.5}, max_loops: 2}, retries: -1}
  f: {tusk: t}
"""
    assert problems(text) == [
        "workflow: budget.tokens: must not be negative, got -1 (line 2)",
        "phase 'a': timebox: invalid duration 'soon': use e.g. '30s', '10m', '1h30m' "
        "or seconds (line 4)",
        "phase 'e': gate.max_loops: needs 'fix': the task that repairs a failed "
        "evaluation (line 10)",
        "phase 'e': retries: must be a whole number >= 0, got -1 (line 10)",
        "phase 'f': tusk: unknown key 'tusk' (allowed: after, budget, compensate, "
        "description, fan_out, gate, heartbeat, retries, stall_after, task, timebox, "
        "with) (line 11)",
        "phase 'f': task: is required: the name of the task to run (line 11)",
        "phase 'b': after: unknown phase 'ghost' (line 7)",
        "phase 'c': after: cycle: c -> d -> c (line 8)",
    ]


def test_unknown_tasks_are_problems_when_the_tasks_are_known() -> None:
    text = (
        "name: w\nphases:\n  a: {task: known}\n  b: {task: missing, after: [a], compensate: gone}\n"
    )
    assert problems(text, known_tasks={"known"}) == [
        "phase 'b': task: unknown task 'missing' (line 4)",
        "phase 'b': compensate: unknown task 'gone' (line 4)",
    ]
    assert load_yaml_text(text).phase("b").task == "missing"  # unchecked without the list


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("phases: {a: {task: t}}\nname: 'bad name!'", "invalid workflow name"),
        ("name: w\nphases: {}", "a workflow needs 'phases'"),
        ("name: w\nphases: [a, b]", "a workflow needs 'phases'"),
        ("name: w\nphases: {a: {task: t, after: [a]}}", "cannot run after itself"),
        ("name: w\nphases: {a: {task: t, fan_out: {over: x.y, parallelism: 0}}}", ">= 1"),
        ("name: w\nphases: {a: {task: t, fan_out: {over: b.items}}}", "does not run after"),
        ("name: w\nphases: {a: {task: t, gate: {}}}", "checks nothing"),
        ("name: w\nphases: {a: {task: t, gate: {approval: robot}}}", "must be one of human"),
        ("name: w\nphases: {a: {task: t, stall_after: 2}}", "needs 'heartbeat'"),
        ("name: w\nphases: {a: {task: t, budget: {tokens: 1.5}}}", "whole number"),
        ("name: w\nphases: {a: {task: t, budget: {dollars: 3}}}", "unknown key 'dollars'"),
        ("name: w\nphases: {a: {task: t, heartbeat: 0s}}", "more than zero"),
        ("name: w\nphases:\n  a: {task: t\n", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
    ],
)
def test_bad_definitions_are_refused_saying_why(text: str, expected: str) -> None:
    assert any(expected in p for p in problems(text)), problems(text)


def test_a_yaml_file_takes_its_name_from_the_file_when_it_has_none(tmp_path: Path) -> None:
    path = tmp_path / "nightly.yaml"
    path.write_text("phases:\n  a: {task: t}\n")
    assert load_yaml_file(path).name == "nightly"
    with pytest.raises(WorkflowProblems, match="cannot read"):
        load_yaml_file(tmp_path / "missing.yaml")


def test_a_builder_phase_defined_twice_is_refused() -> None:
    wf = Workflow("w").phase("a", task="t")
    with pytest.raises(WorkflowProblems, match="defined twice"):
        wf.phase("a", task="t")


def test_a_definition_round_trips_through_its_snapshot() -> None:
    spec = load_yaml_text(IDEAMINE)
    assert parse_workflow(spec.to_dict()) == spec
