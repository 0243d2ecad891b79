"""Gate evaluation and budget arithmetic: pure rules, no database."""

from __future__ import annotations

import pytest

from coord.domain.budgets import exceeded, overruns, parse_limits, recorded
from coord.domain.gates import evaluate, evidence_of, merged_evidence
from coord.domain.tasks import Usage
from coord.domain.workflows import Budget, GateSpec


def test_a_gate_passes_only_with_every_threshold_artifact_and_no_blocker() -> None:
    gate = GateSpec(rubric={"novelty": 0.6, "feasibility": 0.7}, evidence=("prd.md",))
    result = {
        "scores": {"novelty": 0.6, "feasibility": 0.9},
        "artifacts": [{"name": "prd.md"}],
        "violations": [{"message": "typo", "blocking": False}],
    }
    verdict = evaluate(gate, evidence_of(result))
    assert verdict.passed and verdict.findings["scores"] == {"feasibility": 0.9, "novelty": 0.6}

    failing = evaluate(gate, evidence_of({"scores": {"novelty": 0.5}, "violations": ["leak"]}))
    assert not failing.passed
    assert failing.findings["below"] == {"novelty": {"score": 0.5, "min": 0.6}}
    assert failing.findings["missing_scores"] == ["feasibility"]
    assert failing.findings["missing_evidence"] == ["prd.md"]
    assert failing.findings["violations"] == [{"message": "leak"}]


def test_stored_artifacts_count_as_evidence_and_odd_results_are_no_evidence() -> None:
    gate = GateSpec(evidence=("report.md",))
    assert evaluate(gate, evidence_of("plain text", stored_artifacts={"report.md"})).passed
    odd = evidence_of({"scores": {"a": "high", "b": True, "c": 1}, "artifacts": "x"})
    assert odd.scores == {"c": 1.0} and odd.artifacts == set()


def test_a_fan_out_is_scored_by_its_weakest_item() -> None:
    pack = merged_evidence(
        [
            {"scores": {"q": 0.9}, "artifacts": ["a.md"]},
            {"scores": {"q": 0.4}, "violations": [{"message": "x"}]},
            None,
        ]
    )
    assert pack.scores == {"q": 0.4} and pack.artifacts == {"a.md"}
    assert len(pack.violations) == 1


def test_overruns_are_strictly_over_each_limit() -> None:
    budget = Budget(tokens=1000, usd_micros=2_000_000, tool_seconds=60)
    assert overruns(budget, Usage(600, 400, 2_000_000, 60.0)) == {}
    assert overruns(budget, Usage(600, 401, 2_000_001, 61.0)) == {
        "tokens": {"used": 1001, "limit": 1000},
        "usd": {"used": 2.000001, "limit": 2.0},
        "tool_seconds": {"used": 61.0, "limit": 60},
    }
    assert overruns(Budget(), Usage(10**9, 0, 10**9, 1e9)) == {}


def test_every_exceeded_scope_is_listed_in_order_and_read_back_from_a_detail() -> None:
    scopes = [
        ("run", Budget(tokens=100), Usage(60, 50)),
        ("phase:a", Budget(tokens=500), Usage(60, 50)),  # within
        ("phase:b", Budget(usd_micros=1, tool_seconds=1), Usage(0, 0, 2, 2.0)),
    ]
    found = exceeded(scopes)
    assert found == [
        {"scope": "run", "over": {"tokens": {"used": 110, "limit": 100}}},
        {
            "scope": "phase:b",
            "over": {
                "usd": {"used": 2e-06, "limit": 1e-06},
                "tool_seconds": {"used": 2.0, "limit": 1},
            },
        },
    ]
    assert recorded({"reason": "x", "exceeded": found}) == {
        "run": {"tokens"},
        "phase:b": {"usd", "tool_seconds"},
    }
    for nothing in (None, "text", {}, {"exceeded": "no"}, {"exceeded": [{"over": {}}]}):
        assert recorded(nothing) == {}


def test_budget_assignments_parse_or_say_what_is_wrong() -> None:
    budget = parse_limits(["tokens=5000", "usd=2.5"])
    assert (budget.tokens, budget.usd_micros, budget.tool_seconds) == (5000, 2_500_000, None)
    assert Budget(tokens=1, usd_micros=5).merged(budget) == Budget(5000, 2_500_000, None)
    for bad, message in [
        (["tokens"], "use tokens=N"),
        (["coins=3"], "use tokens=N"),
        (["tokens=lots"], "not a number"),
        (["usd=-1"], "must not be negative"),
        (["tokens=1.5"], "whole number"),
        ([], "no limits"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_limits(bad)
