"""Runs for people: plans, a run with its phases, lists, events, costs and artifacts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from coord.cli.output import age, line, table
from coord.domain.durations import format_duration
from coord.domain.run_views import (
    ArtifactInfo,
    PhaseInfo,
    PlanPhase,
    RunCost,
    RunInfo,
    RunPlan,
    summarize,
)
from coord.domain.views import EventInfo


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _budget(budget: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in budget.items()) or "-"


def plan(p: RunPlan) -> None:
    """A run plan: phases in order with their group, gates and required evidence."""
    line(f"workflow {p.workflow}" + (f": {p.description}" if p.description else ""))
    line(f"budget: {_budget(p.budget)}")
    for index, group in enumerate(p.groups):
        line(f"group {index}: {', '.join(group)}" + (" (in parallel)" if len(group) > 1 else ""))
    table(
        [
            "#",
            "phase",
            "group",
            "task",
            "after",
            "fan-out",
            "timebox",
            "budget",
            "gate",
            "evidence",
        ],
        [
            (
                position,
                ph.name,
                ph.group,
                ph.task,
                ", ".join(ph.after) or None,
                None
                if ph.fan_out is None
                else f"{ph.fan_out['over']} x{ph.fan_out['parallelism']}",
                None if ph.timebox_s is None else format_duration(ph.timebox_s),
                _budget(ph.budget) if ph.budget else None,
                _gate(ph.gate),
                "; ".join(ph.required_evidence) or None,
                _policy(ph),
            )
            for position, ph in enumerate(p.phases, start=1)
        ],
        empty="no phases",
    )


def _policy(ph: PlanPhase) -> str | None:
    parts = []
    if ph.heartbeat_s is not None:
        stall = f" (stalled after {ph.stall_after})" if ph.stall_after else ""
        parts.append(f"heartbeat {format_duration(ph.heartbeat_s)}{stall}")
    if ph.retries is not None:
        parts.append(f"retries {ph.retries}")
    if ph.compensate:
        parts.append(f"compensate {ph.compensate}")
    return "; ".join(parts) or None


def _gate(gate: dict[str, Any] | None) -> str | None:
    if gate is None:
        return None
    parts = []
    if gate.get("fix"):
        parts.append(f"fix {gate['fix']} x{gate['max_loops']}")
    if gate.get("approval"):
        parts.append(f"{gate['approval']} approval")
    return ", ".join(parts) or "checks"


def run(r: RunInfo) -> None:
    """A run and each of its phases."""
    line(f"run {r.id}")
    line(f"  workflow: {r.workflow}")
    line(f"  state: {r.state.value}" + (f" ({r.reason})" if r.reason else ""))
    if r.detail and r.state.value in ("paused", "failed", "cancelled", "compensating"):
        line(f"  detail: {json.dumps(r.detail, default=str)[:500]}")
    line(f"  created: {_when(r.created_at)}  started: {_when(r.started_at) or '-'}")
    line(f"  finished: {_when(r.finished_at) or '-'}")
    line(f"  usage: {_usage(r.usage)}  budget: {_budget(r.budget)}")
    table(
        ["phase", "state", "attempts", "loops", "started", "ended", "usage", "result"],
        [_phase_row(p) for p in r.phases],
        empty="  (no phases)",
    )
    for p in r.phases:
        if p.error and p.state.value == "failed":
            line(f"  {p.name} failed: {json.dumps(p.error, default=str)[:500]}")
        if p.state.value == "awaiting_approval":
            line(f"  {p.name} awaits approval: coord gate approve {r.id} {p.name} --by NAME")


def _phase_row(p: PhaseInfo) -> tuple[Any, ...]:
    result = summarize(p.result, 50)
    if p.gate is not None and p.gate.get("rubric"):
        verdict = (
            "waived" if p.gate.get("waived") else "passed" if p.gate.get("passed") else "failed"
        )
        result = f"gate {verdict}" + (f"; {result}" if result else "")
    return (
        p.name,
        p.state.value,
        p.attempt,
        p.loops,
        age(p.started_at),
        age(p.finished_at),
        _usage(p.usage),
        result or None,
    )


def _usage(usage: dict[str, Any]) -> str:
    parts = [f"{usage.get('tokens', 0)} tok"]
    if usage.get("usd"):
        parts.append(f"${usage['usd']:.4f}")
    if usage.get("tool_seconds"):
        parts.append(f"{usage['tool_seconds']:.1f}s tools")
    return " ".join(parts)


def runs(found: list[RunInfo]) -> None:
    """A list of runs."""
    table(
        ["id", "workflow", "state", "reason", "created", "finished", "usage"],
        [
            (
                r.id,
                r.workflow,
                r.state.value,
                r.reason,
                age(r.created_at),
                age(r.finished_at),
                _usage(r.usage),
            )
            for r in found
        ],
        empty="no runs match",
    )


def events(history: list[EventInfo]) -> None:
    """A run's history."""
    table(
        ["id", "time", "topic", "phase", "actor", "data"],
        [
            (
                e.id,
                _when(e.created_at),
                e.topic,
                (e.data or {}).get("phase"),
                e.actor,
                json.dumps({k: v for k, v in (e.data or {}).items() if k != "phase"}, default=str)[
                    :200
                ],
            )
            for e in history
        ],
        empty="no events",
    )


def cost(c: RunCost) -> None:
    """Usage per phase against its budget."""
    rows = [
        (
            item.phase or "(run)",
            item.usage["tokens"],
            f"{item.usage['usd']:.6f}",
            item.usage["tool_seconds"],
            _budget(item.budget),
            ", ".join(f"{k} {v['used']:g}/{v['limit']:g}" for k, v in item.over.items()) or None,
        )
        for item in [*c.phases, c.total]
    ]
    table(["phase", "tokens", "usd", "tool s", "budget", "over"], rows, empty="no phases")


def artifacts(found: list[ArtifactInfo]) -> None:
    """A run's artifacts with their provenance."""
    table(
        ["phase", "name", "attempt", "size", "digest", "producer", "tool"],
        [(a.phase, a.name, a.phase_attempt, a.size, a.digest, a.producer, a.tool) for a in found],
        empty="no artifacts",
    )
