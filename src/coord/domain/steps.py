"""Memoized steps (``await ctx.step(name, fn)``): the key each call is recorded
under, and which records a retry forgets (``reset_steps``).

A step's first call in an attempt is recorded as ``name``, its later calls as
``name#2``, ``name#3``...; resetting ``name`` forgets all of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_RESET_NAMES = 100
MAX_NAME_LENGTH = 200
_REPEAT = re.compile(r"#[0-9]+\Z")


def step_key(name: str, count: int) -> str:
    """The key of the ``count``-th call (1-based) of step ``name`` in an attempt."""
    return name if count == 1 else f"{name}#{count}"


def step_name(key: str) -> str:
    """The step a recorded key belongs to (``fetch#2`` -> ``fetch``)."""
    return _REPEAT.sub("", key)


@dataclass(frozen=True)
class StepReset:
    """The step records a retry deletes: those of ``names`` (every call of each), or
    all of them when ``names`` is None. A reset also clears the task's checkpoint,
    which may hold what the reset steps returned."""

    names: tuple[str, ...] | None = None

    def matches(self, key: str) -> bool:
        """Whether the record ``key`` is reset."""
        return self.names is None or key in self.names or step_name(key) in self.names

    def chosen(self, keys: Iterable[str]) -> list[str]:
        """The keys among ``keys`` that are reset, sorted."""
        return sorted(k for k in keys if self.matches(k))

    def unknown(self, keys: Iterable[str]) -> list[str]:
        """The names that match none of ``keys`` (a typo, most likely)."""
        if self.names is None:
            return []
        recorded = list(keys)
        return [n for n in self.names if not any(StepReset((n,)).matches(k) for k in recorded)]


def parse_step_reset(value: bool | Sequence[str] | None) -> StepReset | None:
    """``reset_steps`` as given to the SDK, the API and the CLI: False or None keeps
    every step, True resets them all, a list of names resets those. ``ValueError``
    names a bad value."""
    if value is None or value is False:
        return None
    if value is True:
        return StepReset()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ValueError("reset_steps: give true (every step) or a list of step names")
    names = tuple(dict.fromkeys(value))  # in order, once each
    if not names:
        raise ValueError("reset_steps: name at least one step, or give true for every step")
    if len(names) > MAX_RESET_NAMES:
        raise ValueError(f"reset_steps: at most {MAX_RESET_NAMES} step names")
    for name in names:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
            raise ValueError(
                f"reset_steps: {name!r} is not a step name (1-{MAX_NAME_LENGTH} characters)"
            )
    return StepReset(names)
