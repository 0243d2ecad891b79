"""What can happen to a run, as decisions for the store to apply under the run's
lock: it starts, a task of it ends an attempt, a person pauses, resumes, cancels,
retries, approves, rejects, waives or raises a budget.

Each function returns a :data:`~coord.ports.runs.Decide`; a signal that does not fit
the run's state raises :class:`~coord.errors.Conflict` (and nothing is written).
"""

from __future__ import annotations

from typing import Any

from coord.domain import canonical, codec, events, sealed_content
from coord.domain.runs import (
    PAUSE_REQUESTED,
    PhaseRecord,
    PhaseState,
    RunChanges,
    RunState,
    RunStep,
    TaskRole,
)
from coord.domain.tasks import Outcome
from coord.domain.workflows import Budget
from coord.errors import Conflict, InvalidInput
from coord.ports.runs import Decide, RunTx
from coord.workflows.engine import Decision

_OPEN = (RunState.RUNNING, RunState.PAUSED)


def _decision(tx: RunTx, actor: str | None) -> Decision:
    return Decision(tx.snapshot(), tx.task_results, actor)


def start(actor: str | None) -> Decide:
    """A new run: mark it started and start its first phases."""

    def decide(tx: RunTx) -> RunChanges:
        d = _decision(tx, actor)
        d.set_run_state(RunState.RUNNING)
        # The input as the store holds it (read back in this transaction), hashed so
        # that the ledger seals it with the event.
        input_hash = {sealed_content.INPUT_SHA256: canonical.digest(d.run.input)}
        d.event(events.RUN_STARTED, workflow=d.run.workflow, phases=list(d.order), **input_hash)
        return d.reconcile()

    return decide


def reconcile() -> Decide:
    """Look at the run again (after a crash, or a timer)."""
    return lambda tx: _decision(tx, "coord:reconciler").reconcile()


def after_outcome(outcome: Outcome, run_step: dict[str, Any] | None) -> Decide:
    """A task of the run ended an attempt: record what it means for its phase."""

    def decide(tx: RunTx) -> RunChanges:
        d = _decision(tx, None)
        step = RunStep.from_dict(run_step) if run_step else None
        task = next((t for t in d.snap.tasks if t.id == outcome.task_id), None)
        if step is not None and task is not None and step.role in (TaskRole.PHASE, TaskRole.ITEM):
            data = codec.loads(outcome.event_json) if outcome.event_json else {}
            if outcome.topic == events.TASK_STALLED:
                d.event(events.PHASE_STALLED, task.phase, task_id=task.id, **data)
            elif outcome.topic == events.TASK_RETRYING:
                d.event(events.PHASE_ERROR, task.phase, task_id=task.id, **data)
        return d.reconcile()

    return decide


def charged(actor: str | None) -> Decide:
    """A task of the run reported usage with its lease renewal: check the budgets
    (the run pauses if one is exceeded; the task itself goes on)."""

    def decide(tx: RunTx) -> RunChanges:
        d = _decision(tx, actor)
        d.enforce_budgets()
        return d.changes

    return decide


def pause(actor: str | None) -> Decide:
    """Start nothing new until resumed (running tasks finish)."""

    def decide(tx: RunTx) -> RunChanges:
        d = _decision(tx, actor)
        if d.run.state is not RunState.RUNNING:
            raise Conflict(f"{d.state_phrase()}: only a running run can be paused", run_id=d.run.id)
        d.set_run_state(RunState.PAUSED, PAUSE_REQUESTED)
        d.event(events.RUN_PAUSED, reason=PAUSE_REQUESTED, by=actor)
        return d.changes

    return decide


def resume(actor: str | None) -> Decide:
    """Continue a paused run (it pauses again at once if still over budget)."""

    def decide(tx: RunTx) -> RunChanges:
        d = _decision(tx, actor)
        if d.run.state is not RunState.PAUSED:
            raise Conflict(f"{d.state_phrase()}: only a paused run can be resumed", run_id=d.run.id)
        d.set_run_state(RunState.RUNNING)
        d.event(events.RUN_RESUMED, by=actor)
        return d.reconcile()

    return decide


def cancel(actor: str | None) -> Decide:
    """Stop the run: cancel its live tasks, then compensate its succeeded phases."""

    def decide(tx: RunTx) -> RunChanges:
        d = _decision(tx, actor)
        if d.run.state not in (*_OPEN, RunState.PENDING):
            raise Conflict(f"{d.state_phrase()}: nothing to cancel", run_id=d.run.id)
        d.event(events.RUN_CANCELLING, by=actor)
        d.end_run(RunState.CANCELLED, "cancelled", {"by": actor})
        return d.changes

    return decide


def retry(from_phase: str | None, actor: str | None) -> Decide:
    """Run a failed or cancelled run again from its failed phase (or ``from_phase``),
    keeping the results of every phase before it. Compensated phases run again too
    (their effect was undone). A phase that failed its gate but holds a valid waiver
    is passed as waived instead of running again."""

    def decide(tx: RunTx) -> RunChanges:
        d = _decision(tx, actor)
        run = d.run
        if from_phase is not None and from_phase not in d.phases:
            raise InvalidInput(f"run {run.id} has no phase {from_phase!r}", phase=from_phase)
        if run.state not in (RunState.FAILED, RunState.CANCELLED):
            raise Conflict(
                f"{d.state_phrase()}: only failed or cancelled runs are retried",
                run_id=run.id,
            )
        reset = {n for n, p in d.phases.items() if p.state is not PhaseState.SUCCEEDED}
        if from_phase is not None:
            reset |= {from_phase, *d.spec.descendants(from_phase)}
        waived = _waived_gate_failures(d, reset) if from_phase is None else set()
        for name in d.order:
            if name in waived:
                phase = d.phases[name]
                d.set_phase(phase, gate={**(phase.gate or {}), "waived": phase.waiver})
                d.event(events.PHASE_GATE_WAIVED, name, waiver=phase.waiver)
                d.succeed_phase(phase)
            elif name in reset:
                _reset_phase(d, d.phases[name])
        d.set_run_state(RunState.RUNNING)
        d.event(events.RUN_RETRIED, by=actor, **({"from": from_phase} if from_phase else {}))
        return d.reconcile()

    return decide


def _waived_gate_failures(d: Decision, candidates: set[str]) -> set[str]:
    return {
        name
        for name in candidates
        if d.phases[name].state is PhaseState.FAILED
        and (d.phases[name].error or {}).get("reason") == "gate_failed"
        and d.waiver_valid(d.phases[name])
    }


def _reset_phase(d: Decision, phase: PhaseRecord) -> None:
    d.set_phase(
        phase,
        state=PhaseState.WAITING,
        loops=0,
        started_at=None,
        finished_at=None,
        deadline_at=None,
        result=None,
        gate=None,
        error=None,
        items=None,
        approval=None,
        finished_seq=None,
    )


def _open_phase(d: Decision, name: str) -> PhaseRecord:
    if d.run.state not in _OPEN:
        raise Conflict(f"{d.state_phrase()}: its phases cannot change", run_id=d.run.id)
    phase = d.phases.get(name)
    if phase is None:
        raise InvalidInput(f"run {d.run.id} has no phase {name!r}", phase=name)
    return phase


def approve(phase_name: str, by: str) -> Decide:
    """A person approves a phase waiting for approval."""

    def decide(tx: RunTx) -> RunChanges:
        d = _decision(tx, by)
        phase = _awaiting(d, phase_name)
        approval = {"by": by, "at": d.snap.now, "decision": "approved"}
        d.set_phase(phase, approval=approval)
        d.event(events.PHASE_APPROVED, phase.name, by=by)
        d.succeed_phase(phase)
        return d.reconcile()

    return decide


def reject(phase_name: str, by: str, reason: str) -> Decide:
    """A person rejects a phase waiting for approval: it fails, and the run with it."""

    def decide(tx: RunTx) -> RunChanges:
        d = _decision(tx, by)
        phase = _awaiting(d, phase_name)
        approval = {"by": by, "at": d.snap.now, "decision": "rejected", "reason": reason}
        d.set_phase(phase, approval=approval)
        d.event(events.PHASE_REJECTED, phase.name, by=by, reason=reason)
        d.fail_phase(phase, "rejected", {"by": by, "reason": reason})
        return d.changes

    return decide


def _awaiting(d: Decision, name: str) -> PhaseRecord:
    phase = _open_phase(d, name)
    if phase.state is not PhaseState.AWAITING_APPROVAL:
        raise Conflict(
            f"phase {name!r} of run {d.run.id} is {phase.state}, not awaiting approval",
            run_id=d.run.id,
            phase=name,
        )
    return phase


def waive(phase_name: str, owner: str, expires_at: float, control: str) -> Decide:
    """Record a waiver: when the phase's gate fails for the last time, it passes as
    waived (until ``expires_at``) instead of failing the run."""

    def decide(tx: RunTx) -> RunChanges:
        d = _decision(tx, owner)
        if d.run.state is RunState.SUCCEEDED:
            raise Conflict(f"{d.state_phrase()}: nothing to waive", run_id=d.run.id)
        phase = d.phases.get(phase_name)
        if phase is None:
            raise InvalidInput(f"run {d.run.id} has no phase {phase_name!r}", phase=phase_name)
        if d.spec.phase(phase_name).gate is None:
            raise InvalidInput(f"phase {phase_name!r} has no gate to waive", phase=phase_name)
        if expires_at <= d.snap.now:
            raise InvalidInput("a waiver must expire in the future")
        waiver = {"owner": owner, "expires_at": expires_at, "control": control, "at": d.snap.now}
        d.set_phase(phase, waiver=waiver)
        d.event(events.PHASE_WAIVER_RECORDED, phase.name, **waiver)
        return d.changes

    return decide


def set_budget(phase_name: str | None, limits: Budget, actor: str | None) -> Decide:
    """Raise (or lower) the limits of the run or of one phase. Raising does not
    resume a run paused for its budget; lowering a limit below what was used pauses
    the run at once."""

    def decide(tx: RunTx) -> RunChanges:
        d = _decision(tx, actor)
        if d.run.state.is_terminal:
            raise Conflict(f"{d.state_phrase()}: its phases cannot change", run_id=d.run.id)
        if phase_name is None:
            budget = d.run.budget.merged(limits)
            d.set_budget(budget)
        else:
            phase = d.phases.get(phase_name)
            if phase is None:
                raise InvalidInput(f"run {d.run.id} has no phase {phase_name!r}", phase=phase_name)
            budget = phase.budget.merged(limits)
            d.set_phase(phase, budget=budget)
        d.event(events.BUDGET_SET, phase_name, budget=budget.to_dict(), by=actor)
        d.enforce_budgets()  # a limit lowered below what was used pauses the run now
        return d.changes

    return decide
