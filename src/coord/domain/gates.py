"""Gates: scoring a phase's evidence pack against its rubric.

A phase result that is a mapping may carry its evidence pack: ``scores`` (name to
number), ``artifacts`` (names, or mappings with a ``name``) and ``violations``
(mappings with at least a ``message``; blocking unless ``"blocking": false``).
Artifacts the phase stored with ``ctx.artifact`` count as evidence too. A fan-out
phase's pack merges its items': the lowest score per name (every item must pass),
every artifact and every violation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from coord.domain.workflows import GateSpec


@dataclass(slots=True)
class Evidence:
    """What a phase shows for its gate."""

    scores: dict[str, float] = field(default_factory=dict)
    artifacts: set[str] = field(default_factory=set)
    violations: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, other: Evidence) -> None:
        """Add ``other``'s evidence: the lower score wins, the rest accumulates."""
        for name, value in other.scores.items():
            self.scores[name] = min(value, self.scores.get(name, value))
        self.artifacts |= other.artifacts
        self.violations.extend(other.violations)


def evidence_of(result: Any, stored_artifacts: Iterable[str] = ()) -> Evidence:
    """The evidence pack of one task result (anything that is not a pack is ignored)."""
    pack = Evidence(artifacts=set(stored_artifacts))
    if not isinstance(result, Mapping):
        return pack
    scores = result.get("scores")
    if isinstance(scores, Mapping):
        for name, value in scores.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                pack.scores[str(name)] = float(value)
    artifacts = result.get("artifacts")
    if isinstance(artifacts, list):
        for item in artifacts:
            name = item.get("name") if isinstance(item, Mapping) else item
            if isinstance(name, str) and name:
                pack.artifacts.add(name)
    violations = result.get("violations")
    if isinstance(violations, list):
        for item in violations:
            if isinstance(item, Mapping):
                pack.violations.append(dict(item))
            elif isinstance(item, str):
                pack.violations.append({"message": item})
    return pack


def merged_evidence(results: Iterable[Any], stored_artifacts: Iterable[str] = ()) -> Evidence:
    """The evidence pack of a fan-out: every item's, merged."""
    pack = Evidence(artifacts=set(stored_artifacts))
    for result in results:
        pack.merge(evidence_of(result))
    return pack


def is_blocking(violation: Mapping[str, Any]) -> bool:
    """A violation blocks unless it says ``"blocking": false``."""
    return violation.get("blocking", True) is not False


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """The result of one evaluation: passed or not, and the findings that say why."""

    passed: bool
    findings: dict[str, Any]


def evaluate(gate: GateSpec, evidence: Evidence) -> GateVerdict:
    """Score ``evidence`` against ``gate``: every rubric minimum met, every required
    artifact present, no blocking violation."""
    below = {
        name: {"score": evidence.scores[name], "min": minimum}
        for name, minimum in gate.rubric.items()
        if name in evidence.scores and evidence.scores[name] < minimum
    }
    missing_scores = sorted(name for name in gate.rubric if name not in evidence.scores)
    missing_evidence = sorted(name for name in gate.evidence if name not in evidence.artifacts)
    blocking = [v for v in evidence.violations if is_blocking(v)]
    passed = not (below or missing_scores or missing_evidence or blocking)
    findings: dict[str, Any] = {
        "passed": passed,
        "scores": dict(sorted(evidence.scores.items())),
        "rubric": dict(gate.rubric),
    }
    if below:
        findings["below"] = below
    if missing_scores:
        findings["missing_scores"] = missing_scores
    if missing_evidence:
        findings["missing_evidence"] = missing_evidence
    if blocking:
        findings["violations"] = blocking
    return GateVerdict(passed, findings)
