"""Registered task handlers: a function bound to its :class:`TaskPolicy`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar

from coord.domain.tasks import KeyTemplate, TaskPolicy

P = ParamSpec("P")
R = TypeVar("R")


class TaskDefinition(Generic[P, R]):
    """A task handler and its policy, as returned by ``@app.task``.

    Calling the definition calls the function itself (handy in unit tests); enqueue
    it with ``app.enqueue(definition, {...})``.
    """

    def __init__(self, fn: Callable[P, R], policy: TaskPolicy) -> None:
        self.fn = fn
        self.policy = policy
        self.name = policy.name
        self.is_async = inspect.iscoroutinefunction(fn)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn
        self._signature = inspect.signature(fn)
        params = list(self._signature.parameters.values())[1:]  # the first is the context
        self._takes_any_key = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
        keyword_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        self._accepted = frozenset(p.name for p in params if p.kind in keyword_kinds)
        self._required = frozenset(
            p.name for p in params if p.kind in keyword_kinds and p.default is p.empty
        )
        self._valid_keysets: set[frozenset[str]] = set()
        self.concurrency_template = (
            None if policy.concurrency_key is None else KeyTemplate(policy.concurrency_key)
        )

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<TaskDefinition {self.name!r} queue={self.policy.queue!r}>"

    def check_payload(self, payload: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` if the payload's keys cannot be the handler's arguments."""
        keys = frozenset(payload)
        if keys in self._valid_keysets:
            return
        missing = sorted(self._required - keys)
        unknown = [] if self._takes_any_key else sorted(keys - self._accepted)
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if unknown:
                parts.append(f"unexpected {unknown}")
            raise ValueError(
                f"payload does not match handler {self.name!r}{self._signature}: "
                + ", ".join(parts)
            )
        if len(self._valid_keysets) < 64:
            self._valid_keysets.add(keys)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A cron schedule that enqueues ``task`` with ``payload`` at every occurrence."""

    name: str
    task: str
    cron: str
    payload: Mapping[str, Any]
    queue: str | None = None
    priority: int | None = None


class Registry:
    """The tasks and schedules an App declares."""

    def __init__(self) -> None:
        self.tasks: dict[str, TaskDefinition[..., Any]] = {}
        self.schedules: dict[str, Schedule] = {}

    def add_task(self, definition: TaskDefinition[..., Any]) -> None:
        """Register a task; names are unique within an App."""
        if definition.name in self.tasks:
            raise ValueError(f"a task named {definition.name!r} is registered already")
        self.tasks[definition.name] = definition

    def add_schedule(self, schedule: Schedule) -> None:
        """Register a cron schedule; names are unique within an App."""
        if schedule.name in self.schedules:
            raise ValueError(f"a schedule named {schedule.name!r} is registered already")
        self.schedules[schedule.name] = schedule
