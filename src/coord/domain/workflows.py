"""Workflow definitions: a named DAG of phases, each with its policy.

Python builders and YAML files both produce a plain mapping that :func:`parse_workflow`
turns into one validated :class:`WorkflowSpec`, so the two cannot drift apart. Every
problem found is reported at once with its path (``phases.critique.gate.max_loops``)
so a YAML loader can add the line it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from coord.domain import bounds, content
from coord.domain.durations import parse_duration

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_TASK = re.compile(r"^\S{1,200}$")
_SCORE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_APPROVALS = ("human",)
DEFAULT_PARALLELISM = 10
DEFAULT_MAX_LOOPS = 3
MAX_SCORE = 1e15  # a rubric's minimum score: any finite scale

Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a definition: where (a key path) and what."""

    path: Path
    message: str

    @property
    def phase(self) -> str | None:
        """The phase the problem is in, if any."""
        if len(self.path) >= 2 and self.path[0] == "phases":
            return self.path[1]
        return None

    def describe(self, line: int | None = None) -> str:
        """``phase 'critique': gate.max_loops must be >= 0 (line 12)``."""
        if self.phase is not None:
            where = f"phase {self.phase!r}"
            rest = ".".join(self.path[2:])
        else:
            where = "workflow"
            rest = ".".join(self.path)
        text = f"{where}: {rest + ': ' if rest else ''}{self.message}"
        return text if line is None else f"{text} (line {line})"


class WorkflowProblems(ValueError):
    """A definition with problems; ``problems`` lists them all."""

    def __init__(self, name: str, problems: Sequence[Problem], lines: Mapping[Path, int]) -> None:
        self.name = name
        self.problems = list(problems)
        self.lines = dict(lines)
        described = "".join(f"\n  - {d}" for d in self.describe_all())
        super().__init__(f"workflow {name!r} is invalid:{described}")

    def describe_all(self) -> list[str]:
        """Each problem as a sentence, with its line when known."""
        return [p.describe(line_of(self.lines, p.path)) for p in self.problems]


def line_of(lines: Mapping[Path, int], path: Path) -> int | None:
    """The line of ``path`` or of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None


@dataclass(frozen=True, slots=True)
class Budget:
    """Limits on a scope (a run or a phase); None means no limit."""

    tokens: int | None = None
    usd_micros: int | None = None
    tool_seconds: float | None = None

    @property
    def is_empty(self) -> bool:
        """True when nothing is limited."""
        return self.tokens is None and self.usd_micros is None and self.tool_seconds is None

    def merged(self, other: Budget) -> Budget:
        """This budget with the limits ``other`` sets replacing ours."""
        return Budget(
            tokens=other.tokens if other.tokens is not None else self.tokens,
            usd_micros=other.usd_micros if other.usd_micros is not None else self.usd_micros,
            tool_seconds=other.tool_seconds
            if other.tool_seconds is not None
            else self.tool_seconds,
        )

    def to_dict(self) -> dict[str, Any]:
        """As JSON data, in the units people write (``usd`` in dollars)."""
        out: dict[str, Any] = {}
        if self.tokens is not None:
            out["tokens"] = self.tokens
        if self.usd_micros is not None:
            out["usd"] = self.usd_micros / 1_000_000
        if self.tool_seconds is not None:
            out["tool_seconds"] = self.tool_seconds
        return out


@dataclass(frozen=True, slots=True)
class FanOut:
    """Run the phase's task once per item of a list, at most ``parallelism`` at once.

    ``over`` names the list: ``input.KEY`` (the run input), ``PHASE.KEY`` (a key of
    the result of a phase this one runs after), or a bare ``KEY`` looked up in the
    results of the ``after`` phases, then in the run input.
    """

    over: str
    parallelism: int = DEFAULT_PARALLELISM


@dataclass(frozen=True, slots=True)
class GateSpec:
    """What a phase's output must show before the run moves on.

    ``rubric``: a minimum per score; ``evidence``: artifact names the phase must have
    stored; ``fix``: the task that runs with the findings of a failed evaluation,
    after which the phase runs again, at most ``max_loops`` times; ``approval:
    human``: a person approves (or rejects) after the automatic checks pass.
    """

    rubric: Mapping[str, float] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()
    fix: str | None = None
    max_loops: int = DEFAULT_MAX_LOOPS
    approval: str | None = None


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    """One node of the DAG."""

    name: str
    task: str
    after: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    timebox: float | None = None
    budget: Budget = field(default_factory=Budget)
    fan_out: FanOut | None = None
    gate: GateSpec | None = None
    heartbeat: float | None = None
    stall_after: int | None = None
    retries: int | None = None
    compensate: str | None = None
    description: str | None = None

    def task_names(self) -> list[str]:
        """Every task this phase may run: its own, the gate's fix, the compensation."""
        names = [self.task]
        if self.gate is not None and self.gate.fix is not None:
            names.append(self.gate.fix)
        if self.compensate is not None:
            names.append(self.compensate)
        return names


@dataclass(frozen=True, slots=True)
class WorkflowSpec:
    """A validated workflow: phases in declaration order, a DAG by ``after``."""

    name: str
    phases: Mapping[str, PhaseSpec]
    budget: Budget = field(default_factory=Budget)
    description: str | None = None
    source: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def phase(self, name: str) -> PhaseSpec:
        """The phase called ``name``; ``KeyError`` if there is none."""
        return self.phases[name]

    def order(self) -> list[str]:
        """Phases in a topological order, ties kept in declaration order."""
        return [name for group in self.groups() for name in group]

    def groups(self) -> list[list[str]]:
        """Parallel groups: phases whose longest path from a root has the same length
        (each group can run at once once the previous ones are done)."""
        level: dict[str, int] = {}
        for name in _topological(self.phases):
            after = self.phases[name].after
            level[name] = 1 + max((level[a] for a in after), default=-1)
        out: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
        for name in self.phases:  # declaration order inside a group
            out[level[name]].append(name)
        return out

    def descendants(self, name: str) -> list[str]:
        """Phases that run after ``name``, directly or not (topological order)."""
        found = {name}
        for phase in self.order():
            if any(a in found for a in self.phases[phase].after):
                found.add(phase)
        found.discard(name)
        return [p for p in self.order() if p in found]

    def task_names(self) -> set[str]:
        """Every task name the workflow may run."""
        return {t for p in self.phases.values() for t in p.task_names()}

    def to_dict(self) -> dict[str, Any]:
        """The definition as the plain mapping it was parsed from (normalized)."""
        return dict(self.source)


# -- parsing ------------------------------------------------------------------------


class _Collector:
    """Gathers problems while a definition is read."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: Path, message: str) -> None:
        self.problems.append(Problem(path, message))


def parse_workflow(
    data: Any,
    *,
    lines: Mapping[Path, int] | None = None,
    known_tasks: Iterable[str] | None = None,
    default_name: str | None = None,
) -> WorkflowSpec:
    """Validate a definition mapping and return the workflow it describes.

    ``known_tasks``, when given, is every task name that can run: a phase naming
    another is a problem. ``lines`` maps key paths to source lines (YAML). Raises
    :class:`WorkflowProblems` listing every problem found.
    """
    c = _Collector()
    lines = lines or {}
    if not isinstance(data, Mapping):
        c.add((), "a workflow definition must be a mapping with 'name' and 'phases'")
        raise WorkflowProblems(default_name or "?", c.problems, lines)
    name = data.get("name", default_name)
    if not isinstance(name, str) or not _NAME.match(name):
        c.add(("name",), f"invalid workflow name {name!r}: use 1-64 letters, digits, _ . -")
        name = str(name)
    _check_keys(c, (), data, {"name", "description", "budget", "phases"})
    _check_content(c, data)
    budget = _budget(c, ("budget",), data.get("budget"))
    description = _optional_text(c, ("description",), data.get("description"))
    raw_phases = data.get("phases")
    phases: dict[str, PhaseSpec] = {}
    if not isinstance(raw_phases, Mapping) or not raw_phases:
        c.add(("phases",), "a workflow needs 'phases': a mapping of phase name to its policy")
    else:
        for phase_name, raw in raw_phases.items():
            phase = _phase(c, str(phase_name), raw)
            if phase is not None:
                phases[phase.name] = phase
        _check_graph(c, phases)
        if known_tasks is not None:
            _check_tasks(c, phases, set(known_tasks))
    if c.problems:
        raise WorkflowProblems(name, c.problems, lines)
    return WorkflowSpec(
        name=name,
        phases=phases,
        budget=budget,
        description=description,
        source=_normalized(data),
    )


def _check_content(c: _Collector, data: Mapping[str, Any]) -> None:
    # The definition is stored as JSON: what JSON (or PostgreSQL) cannot hold
    # unchanged is refused here, wherever it is (phase arguments included).
    found = content.problem_in(dict(data))
    if found is not None:
        c.add(tuple(found.field.split(".")), found.problem)


def _normalized(data: Mapping[str, Any]) -> dict[str, Any]:
    """The definition as JSON data (what runs keep as their snapshot)."""
    return {str(k): v for k, v in data.items()}


def _check_keys(c: _Collector, path: Path, raw: Mapping[str, Any], allowed: set[str]) -> None:
    for key in raw:
        if key not in allowed:
            c.add((*path, str(key)), f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")


_PHASE_KEYS = {
    "task",
    "after",
    "with",
    "timebox",
    "budget",
    "fan_out",
    "gate",
    "heartbeat",
    "stall_after",
    "retries",
    "compensate",
    "description",
}


def _phase(c: _Collector, name: str, raw: Any) -> PhaseSpec | None:
    path: Path = ("phases", name)
    if not _NAME.match(name):
        c.add(path, f"invalid phase name {name!r}: use 1-64 letters, digits, _ . -")
        return None
    if not isinstance(raw, Mapping):
        c.add(path, "a phase must be a mapping with at least 'task'")
        return None
    _check_keys(c, path, raw, _PHASE_KEYS)
    task = _task_name(c, (*path, "task"), raw.get("task"), required=True) or "?"
    after = _after(c, (*path, "after"), raw.get("after"))
    params = raw.get("with", {})
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        c.add((*path, "with"), "must be a mapping of argument name to value")
        params = {}
    heartbeat = _duration(c, (*path, "heartbeat"), raw.get("heartbeat"), positive=True)
    stall_after = _count(c, (*path, "stall_after"), raw.get("stall_after"), minimum=1)
    if stall_after is not None and heartbeat is None:
        c.add((*path, "stall_after"), "needs 'heartbeat' (stalls are missed heartbeats)")
    return PhaseSpec(
        name=name,
        task=task,
        after=after,
        params=dict(params),
        timebox=_duration(c, (*path, "timebox"), raw.get("timebox"), positive=True),
        budget=_budget(c, (*path, "budget"), raw.get("budget")),
        fan_out=_fan_out(c, (*path, "fan_out"), raw.get("fan_out")),
        gate=_gate(c, (*path, "gate"), raw.get("gate")),
        heartbeat=heartbeat,
        stall_after=stall_after,
        retries=_count(c, (*path, "retries"), raw.get("retries"), minimum=0),
        compensate=_task_name(c, (*path, "compensate"), raw.get("compensate")),
        description=_optional_text(c, (*path, "description"), raw.get("description")),
    )


def _task_name(c: _Collector, path: Path, raw: Any, *, required: bool = False) -> str | None:
    if raw is None:
        if required:
            c.add(path, "is required: the name of the task to run")
        return None
    if not isinstance(raw, str) or not _TASK.match(raw):
        c.add(path, f"invalid task name {raw!r}")
        return None
    return raw


def _after(c: _Collector, path: Path, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        c.add(path, "must be a list of phase names")
        return ()
    if len(set(raw)) != len(raw):
        c.add(path, "names a phase twice")
    return tuple(dict.fromkeys(raw))


def _duration(c: _Collector, path: Path, raw: Any, *, positive: bool = False) -> float | None:
    if raw is None:
        return None
    try:
        seconds = parse_duration(raw)
    except (ValueError, TypeError) as exc:
        c.add(path, str(exc) if isinstance(exc, ValueError) else f"invalid duration {raw!r}")
        return None
    if positive and seconds <= 0:
        c.add(path, f"must be more than zero, got {raw!r}")
        return None
    return seconds


def _count(c: _Collector, path: Path, raw: Any, *, minimum: int) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < minimum:
        c.add(path, f"must be a whole number >= {minimum}, got {raw!r}")
        return None
    if raw > bounds.MAX_COUNT:
        c.add(path, f"must be at most {bounds.MAX_COUNT:_}, got {raw!r}")
        return None
    return raw


def _number(c: _Collector, path: Path, raw: Any, *, high: float) -> float | None:
    if raw is None:
        return None
    try:
        return bounds.number(raw, ".".join(path), high=high)
    except bounds.OutOfRange as exc:
        c.add(path, exc.problem)
        return None


def _optional_text(c: _Collector, path: Path, raw: Any) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    c.add(path, "must be text")
    return None


def _budget(c: _Collector, path: Path, raw: Any) -> Budget:
    if raw is None:
        return Budget()
    if not isinstance(raw, Mapping):
        c.add(path, "must be a mapping such as {tokens: 20000, usd: 2.5}")
        return Budget()
    _check_keys(c, path, raw, {"tokens", "usd", "tool_seconds"})
    tokens = _number(c, (*path, "tokens"), raw.get("tokens"), high=bounds.MAX_TOKENS)
    if tokens is not None and tokens != int(tokens):
        c.add((*path, "tokens"), f"must be a whole number, got {raw.get('tokens')!r}")
    usd = _number(c, (*path, "usd"), raw.get("usd"), high=bounds.MAX_USD)
    tool = _duration(c, (*path, "tool_seconds"), raw.get("tool_seconds"))
    return Budget(
        tokens=None if tokens is None else int(tokens),
        usd_micros=None if usd is None else round(usd * 1_000_000),
        tool_seconds=tool,
    )


def _fan_out(c: _Collector, path: Path, raw: Any) -> FanOut | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"over": raw}
    if not isinstance(raw, Mapping):
        c.add(path, "must be a mapping such as {over: ideas, parallelism: 4}")
        return None
    _check_keys(c, path, raw, {"over", "parallelism"})
    over = raw.get("over")
    if not isinstance(over, str) or not over or over.count(".") > 1:
        c.add((*path, "over"), "is required: KEY, input.KEY or PHASE.KEY naming a list")
        return None
    parallelism = _count(c, (*path, "parallelism"), raw.get("parallelism"), minimum=1)
    return FanOut(over=over, parallelism=parallelism or DEFAULT_PARALLELISM)


def _gate(c: _Collector, path: Path, raw: Any) -> GateSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        c.add(path, "must be a mapping with rubric, evidence, fix, max_loops or approval")
        return None
    _check_keys(c, path, raw, {"rubric", "evidence", "fix", "max_loops", "approval"})
    rubric: dict[str, float] = {}
    raw_rubric = raw.get("rubric", {})
    if not isinstance(raw_rubric, Mapping):
        c.add((*path, "rubric"), "must map score names to their minimum")
    else:
        for score, minimum in raw_rubric.items():
            if not isinstance(score, str) or not _SCORE.match(score):
                c.add((*path, "rubric", str(score)), f"invalid score name {score!r}")
                continue
            value = _number(c, (*path, "rubric", score), minimum, high=MAX_SCORE)
            if value is not None:
                rubric[score] = value
    evidence = raw.get("evidence", [])
    if isinstance(evidence, str):
        evidence = [evidence]
    if not isinstance(evidence, list) or not all(isinstance(e, str) and e for e in evidence):
        c.add((*path, "evidence"), "must be a list of artifact names")
        evidence = []
    approval = raw.get("approval")
    if approval is not None and approval not in _APPROVALS:
        c.add((*path, "approval"), f"must be one of {', '.join(_APPROVALS)}, got {approval!r}")
        approval = None
    max_loops = _count(c, (*path, "max_loops"), raw.get("max_loops"), minimum=0)
    fix = _task_name(c, (*path, "fix"), raw.get("fix"))
    if not rubric and not evidence and approval is None:
        c.add(path, "checks nothing: give a rubric, evidence or approval: human")
    if max_loops and fix is None:
        c.add((*path, "max_loops"), "needs 'fix': the task that repairs a failed evaluation")
    return GateSpec(
        rubric=rubric,
        evidence=tuple(evidence),
        fix=fix,
        max_loops=(DEFAULT_MAX_LOOPS if fix else 0) if max_loops is None else max_loops,
        approval=approval,
    )


def _check_graph(c: _Collector, phases: Mapping[str, PhaseSpec]) -> None:
    for phase in phases.values():
        for dep in phase.after:
            if dep == phase.name:
                c.add(("phases", phase.name, "after"), "a phase cannot run after itself")
            elif dep not in phases:
                c.add(("phases", phase.name, "after"), f"unknown phase {dep!r}")
    cycle = find_cycle(phases)
    if cycle:
        c.add(("phases", cycle[0], "after"), "cycle: " + " -> ".join(cycle))
    for phase in phases.values():
        fan_out = phase.fan_out
        if fan_out is None or "." not in fan_out.over:
            continue
        source = fan_out.over.split(".", 1)[0]
        if source != "input" and source not in phase.after:
            c.add(
                ("phases", phase.name, "fan_out", "over"),
                f"names phase {source!r}, which this phase does not run after",
            )


def find_cycle(phases: Mapping[str, PhaseSpec]) -> list[str]:
    """A cycle of ``after`` edges as ``[a, b, ..., a]`` (a runs after b...), or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for dep in phases[name].after:
            if dep not in phases or dep == name:
                continue
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return []

    for name in phases:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return []


def _check_tasks(c: _Collector, phases: Mapping[str, PhaseSpec], known: set[str]) -> None:
    for phase in phases.values():
        checks = [("task", phase.task), ("compensate", phase.compensate)]
        if phase.gate is not None:
            checks.append(("gate.fix", phase.gate.fix))
        for where, task in checks:
            if task is not None and task != "?" and task not in known:
                c.add(("phases", phase.name, *where.split(".")), f"unknown task {task!r}")


def _topological(phases: Mapping[str, PhaseSpec]) -> list[str]:
    """Kahn's algorithm, declaration order among the ready (the graph is acyclic)."""
    remaining = {name: set(p.after) for name, p in phases.items()}
    out: list[str] = []
    while remaining:
        ready = [n for n, deps in remaining.items() if not deps]
        if not ready:  # pragma: no cover - parse_workflow refuses cycles
            raise ValueError("the phases form a cycle")
        for name in ready:
            out.append(name)
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return out
