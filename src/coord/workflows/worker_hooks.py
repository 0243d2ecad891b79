"""The run engine as the worker sees it: its :class:`~coord.runtime.run_hooks.RunHooks`,
and the built-in timer task that wakes the engine at a phase's timebox deadline."""

from __future__ import annotations

from typing import Any

from coord.domain.runs import TIMER_TASK
from coord.domain.tasks import ClaimedTask, Outcome, TaskPolicy
from coord.ports.runs import Decide
from coord.runtime.context import Context
from coord.runtime.registry import TaskDefinition
from coord.workflows import decisions


class EngineHooks:
    """Hands run-task outcomes and reconciliations to the engine."""

    def after_outcome(self, outcome: Outcome, task: ClaimedTask) -> Decide:
        """The decision to store with ``outcome``."""
        return decisions.after_outcome(outcome, task.run_step)

    def after_charge(self, owner: str) -> Decide:
        """The decision to take after a run task reported usage with its lease."""
        return decisions.charged(owner)

    def reconcile(self) -> Decide:
        """Look at a run again."""
        return decisions.reconcile()


async def _timer(ctx: Context) -> None:
    """Nothing to do: finishing makes the engine look at the run, past the deadline."""
    return


def timer_task() -> TaskDefinition[..., Any]:
    """The ``coord.timer`` task every App registers (its worker may get the timers of
    any run whose phase tasks it serves)."""
    policy = TaskPolicy(name=TIMER_TASK, retries=10, timeout=60.0)
    return TaskDefinition(_timer, policy)
