"""Loading workflow definitions: YAML files (with the line of every key) and the
Python builder. Both produce the plain mapping that
:func:`coord.domain.workflows.parse_workflow` validates, so they accept the same
things and report the same problems."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path as FilePath
from typing import Any

import yaml

from coord.domain.durations import parse_duration
from coord.domain.files import unreadable
from coord.domain.workflows import (
    Path,
    Problem,
    WorkflowProblems,
    WorkflowSpec,
    parse_workflow,
)

DurationLike = str | float


def load_yaml_text(
    text: str, *, source: str = "<text>", known_tasks: Iterable[str] | None = None
) -> WorkflowSpec:
    """Parse and validate a YAML definition; problems name their line."""
    data, lines = _compose(text, source)
    default_name = FilePath(source).stem if source != "<text>" else None
    return parse_workflow(data, lines=lines, known_tasks=known_tasks, default_name=default_name)


def load_yaml_file(
    path: str | FilePath, *, known_tasks: Iterable[str] | None = None
) -> WorkflowSpec:
    """Parse and validate a YAML definition file."""
    file = FilePath(path)
    try:
        text = file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkflowProblems(file.stem, [Problem((), unreadable(file, exc))], {}) from None
    return load_yaml_text(text, source=str(file), known_tasks=known_tasks)


def _compose(text: str, source: str) -> tuple[Any, dict[Path, int]]:
    """YAML to plain data, and the (1-based) line of every mapping key and item."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise WorkflowProblems(
            FilePath(source).stem, [Problem((), f"not valid YAML: {problem}")], {(): line or 1}
        ) from None
    if node is None:
        return None, {}
    lines: dict[Path, int] = {(): node.start_mark.line + 1}
    return _to_data(node, (), lines), lines


def _to_data(node: yaml.Node, path: Path, lines: dict[Path, int]) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            child = (*path, str(key))
            lines[child] = key_node.start_mark.line + 1
            out[key] = _to_data(value_node, child, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            child = (*path, str(index))
            lines[child] = item.start_mark.line + 1
            items.append(_to_data(item, child, lines))
        return items
    return yaml.safe_load(yaml.serialize(node))


class Workflow:
    """Build a workflow in Python; the same keys as YAML, as keyword arguments.

    >>> wf = Workflow("release", budget={"tokens": 100_000})
    >>> wf.phase("build", task="build", timebox="30m")
    >>> wf.phase("ship", task="ship", after=["build"], gate={"approval": "human"})
    >>> spec = wf.spec()
    """

    def __init__(
        self,
        name: str,
        *,
        budget: Mapping[str, float] | None = None,
        description: str | None = None,
    ) -> None:
        self.name = name
        self._data: dict[str, Any] = {"name": name, "phases": {}}
        if budget is not None:
            self._data["budget"] = dict(budget)
        if description is not None:
            self._data["description"] = description

    def phase(
        self,
        name: str,
        *,
        task: str | Any,
        after: Sequence[str] | str = (),
        params: Mapping[str, Any] | None = None,
        timebox: DurationLike | None = None,
        budget: Mapping[str, float] | None = None,
        fan_out: Mapping[str, Any] | str | None = None,
        gate: Mapping[str, Any] | None = None,
        heartbeat: DurationLike | None = None,
        stall_after: int | None = None,
        retries: int | None = None,
        compensate: str | Any | None = None,
        description: str | None = None,
    ) -> Workflow:
        """Add a phase (``task`` and ``compensate`` take a name or an ``@app.task``)."""
        phase: dict[str, Any] = {"task": _task_ref(task)}
        optional = {
            "after": [after] if isinstance(after, str) else list(after),
            "with": dict(params) if params else None,
            "timebox": timebox,
            "budget": dict(budget) if budget is not None else None,
            "fan_out": fan_out,
            "gate": _gate_refs(gate),
            "heartbeat": heartbeat,
            "stall_after": stall_after,
            "retries": retries,
            "compensate": None if compensate is None else _task_ref(compensate),
            "description": description,
        }
        phase.update({k: v for k, v in optional.items() if v not in (None, [])})
        phases: dict[str, Any] = self._data["phases"]
        if name in phases:
            raise WorkflowProblems(self.name, [Problem(("phases", name), "is defined twice")], {})
        phases[name] = phase
        return self

    def to_dict(self) -> dict[str, Any]:
        """The definition as YAML would hold it."""
        plain: dict[str, Any] = _plain(self._data)
        return plain

    def spec(self, *, known_tasks: Iterable[str] | None = None) -> WorkflowSpec:
        """Validate and return the workflow."""
        return parse_workflow(self.to_dict(), known_tasks=known_tasks)


def _task_ref(task: Any) -> Any:
    """A task name from a name or an ``@app.task`` definition."""
    return getattr(task, "name", task)


def _gate_refs(gate: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if gate is None:
        return None
    out = dict(gate)
    if "fix" in out:
        out["fix"] = _task_ref(out["fix"])
    return out


def _plain(value: Any) -> Any:
    """Durations given as timedelta become seconds; everything else stays as given."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "total_seconds"):
        return parse_duration(value)
    return value
