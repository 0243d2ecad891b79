"""How the worker hands the outcomes of workflow-run tasks to the run engine, which
lives above the runtime: the App gives the worker these hooks."""

from __future__ import annotations

from typing import Protocol

from coord.domain.tasks import ClaimedTask, Outcome
from coord.ports.runs import Decide


class RunHooks(Protocol):
    """Decisions the worker asks the run engine for."""

    def after_outcome(self, outcome: Outcome, task: ClaimedTask) -> Decide:
        """What a run task's outcome means for its run (applied with the outcome)."""
        ...

    def after_charge(self, owner: str) -> Decide:
        """What usage a run's task reported with a lease renewal means for its run
        (its budgets); ``owner`` is the worker that reported it."""
        ...

    def reconcile(self) -> Decide:
        """Look at a run again (one a crash may have left without its next step)."""
        ...
