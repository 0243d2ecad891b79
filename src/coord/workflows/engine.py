"""The run engine: given a locked run, decide what happens next.

The engine is a reconciler. Whatever woke it (a task finished, a signal, a timer),
it reads the run as it is now and walks the phases in topological order:

* a running phase whose task succeeded has its gate evaluated (passed: succeeded,
  or waiting for a person; failed: the fix task, then the phase again, up to
  ``max_loops``, else a waiver, else the run fails);
* a fan-out phase starts its next items up to its parallelism and merges the
  results, in item order, when the last one succeeded;
* a phase whose ``after`` phases all succeeded starts, unless the run is paused;
* a run or any of its phases over its budget (after whatever charge) pauses the run
  (``budget_exceeded``) before its next step, be it a task, a phase or the run's
  success; a compensating run goes on, but the overrun is recorded;
* a phase past its timebox, or whose task died, fails, and with it the run: live
  tasks are cancelled and the compensations of succeeded phases run, one at a time,
  newest first.

Because every decision is derived from the stored state, running the engine again
on an unchanged run decides nothing: a crash between a task's outcome and the next
step is repaired by simply looking again (the worker's reconciler does).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from coord.domain import budgets, codec, events
from coord.domain.budgets import usage_dict
from coord.domain.gates import Evidence, evaluate, evidence_of, merged_evidence
from coord.domain.ids import new_id
from coord.domain.runs import (
    PAUSE_BUDGET,
    TIMER_TASK,
    PhaseRecord,
    PhaseState,
    RunChanges,
    RunSnapshot,
    RunState,
    RunStep,
    RunTaskRecord,
    TaskRole,
)
from coord.domain.tasks import NewTask, TaskPolicy, TaskState, Usage
from coord.domain.workflows import Budget, PhaseSpec, WorkflowSpec, parse_workflow
from coord.errors import ConfigError

Results = Callable[[Sequence[str]], dict[str, Any]]
_LIVE = (TaskState.PENDING, TaskState.RUNNING, TaskState.FAILED)
_BUDGETED = (RunState.RUNNING, RunState.PAUSED, RunState.COMPENSATING)  # budgets checked
_BROKEN = (TaskState.DEAD, TaskState.CANCELLED)


@functools.lru_cache(maxsize=256)
def _parsed(definition_json: str) -> tuple[WorkflowSpec, tuple[str, ...]]:
    spec = parse_workflow(codec.loads(definition_json))
    return spec, tuple(spec.order())


def spec_of(definition: Mapping[str, Any]) -> tuple[WorkflowSpec, tuple[str, ...]]:
    """The validated spec of a run's definition and its phases in topological order
    (worked out once per definition: every decision about every run of a workflow
    needs them)."""
    return _parsed(codec.dumps(definition))


class Decision:
    """One pass of the engine over one run: it changes its in-memory copy of the
    run as it decides, so that later phases see earlier decisions, and records every
    change to write in :attr:`changes`."""

    def __init__(self, snapshot: RunSnapshot, results: Results, actor: str | None = None):
        self.snap = snapshot
        self.run = snapshot.run
        self.phases = snapshot.phases
        self.spec, self.order = spec_of(snapshot.run.definition)
        self.changes = RunChanges(actor=actor)
        self.actor = actor
        self._results = results
        self._now = snapshot.now
        self._usage: dict[str | None, Usage] | None = None  # per phase, the run's under None

    # -- recording ------------------------------------------------------------------
    def set_phase(self, phase: PhaseRecord, **fields: Any) -> None:
        """Change a phase, in memory and in the changes to write."""
        for name, value in fields.items():
            setattr(phase, name, value)
        self.changes.phases[phase.name] = phase

    def set_run_state(self, state: RunState, reason: str | None = None, detail: Any = None) -> None:
        """Change the run's state (and its reason, cleared when None)."""
        run = self.run
        run.state, run.reason, run.detail = state, reason, detail
        if state is RunState.RUNNING and run.started_at is None:
            run.started_at = self._now
        run.finished_at = self._now if state.is_terminal else None
        self.changes.run = run

    def set_budget(self, budget: Budget) -> None:
        """Change the run's limits."""
        self.run.budget = budget
        self.changes.run = self.run

    def event(self, topic: str, phase: str | None = None, **data: Any) -> None:
        """Record an event of this run."""
        self.changes.event(topic, phase, data or None)

    # -- the pass -------------------------------------------------------------------
    def reconcile(self) -> RunChanges:
        """Advance the run as far as its state allows; return what to write."""
        if self.run.state is RunState.COMPENSATING:
            self.enforce_budgets()
            self._compensate()
        elif self.run.state in (RunState.RUNNING, RunState.PAUSED):
            self.enforce_budgets()  # first: whatever was charged, nothing new past a budget
            self._advance()
        return self.changes

    def _advance(self) -> None:
        for name in self.order:
            if self.run.state not in (RunState.RUNNING, RunState.PAUSED):
                return  # the run failed during this pass
            phase = self.phases[name]
            if phase.state in (PhaseState.RUNNING, PhaseState.FIXING):
                self._progress(phase)
            if phase.state is PhaseState.WAITING and self._ready(name):
                self._start_phase(phase)
        if all(p.state is PhaseState.SUCCEEDED for p in self.phases.values()):
            if self.run.state is RunState.PAUSED and self.run.reason == PAUSE_BUDGET:
                return  # never past an exceeded budget: it succeeds once raised and resumed
            self.set_run_state(RunState.SUCCEEDED)
            self.event(events.RUN_SUCCEEDED, usage=_usage_data(self.snap))

    def _ready(self, name: str) -> bool:
        return all(
            self.phases[dep].state is PhaseState.SUCCEEDED for dep in self.spec.phase(name).after
        )

    # -- budgets --------------------------------------------------------------------
    def may_start_work(self, phase: PhaseRecord) -> bool:
        """True if new work may start in ``phase``: the run is running and neither it
        nor any of its phases is over its budget (else the run pauses)."""
        if self.run.state is not RunState.RUNNING:
            return False
        return self.enforce_budgets()

    def exceeded(self) -> list[dict[str, Any]]:
        """Every scope over its budget, the run first, then its phases in order (see
        :func:`coord.domain.budgets.exceeded`). Usage is everything the run's tasks
        charged so far, by their outcomes and by their lease renewals alike."""
        if self.run.budget.is_empty and all(p.budget.is_empty for p in self.phases.values()):
            return []  # the common case: nothing to add up
        if self._usage is None:  # once per decision: the tasks it enqueues charged nothing
            self._usage = self.snap.usage_by_phase()
        usage = self._usage
        scopes = [("run", self.run.budget, usage[None])]
        scopes += [
            (f"phase:{name}", self.phases[name].budget, usage.get(name) or Usage())
            for name in self.order
        ]
        return budgets.exceeded(scopes)

    def enforce_budgets(self) -> bool:
        """True when no budget of the run is exceeded. Otherwise the run takes no next
        step: a running (or paused) run is paused for ``budget_exceeded``, its detail
        naming the first exceeded scope (``scope``, ``over``) and every one
        (``exceeded``); a compensating run goes on (undoing work never stops for its
        cost), its detail keeping the record. Each scope newly over a limit is
        recorded as one ``budget.exceeded`` event (again after a resume)."""
        exceeded = self.exceeded()
        run = self.run
        if not exceeded or run.state not in _BUDGETED:
            return not exceeded
        compensating = run.state is RunState.COMPENSATING
        pausing = not compensating and (run.state is RunState.RUNNING or run.reason != PAUSE_BUDGET)
        known = {} if pausing else budgets.recorded(run.detail)
        for entry in exceeded:
            scope = entry["scope"]
            if not set(entry["over"]) <= known.get(scope, set()):
                phase = None if scope == "run" else scope.removeprefix("phase:")
                self.changes.event(events.BUDGET_EXCEEDED, phase, entry)
        if compensating:
            previous = run.detail if isinstance(run.detail, Mapping) else {}
            detail = {**previous, "exceeded": exceeded}
        else:
            first = exceeded[0]
            detail = {"scope": first["scope"], "over": first["over"], "exceeded": exceeded}
        if pausing:
            self.set_run_state(RunState.PAUSED, PAUSE_BUDGET, detail)
            self.changes.event(events.RUN_PAUSED, None, {"reason": PAUSE_BUDGET, **detail})
        elif detail != run.detail:  # the amounts grew meanwhile, or another scope is over
            self.set_run_state(run.state, run.reason, detail)
        return False

    # -- starting -------------------------------------------------------------------
    def _start_phase(self, phase: PhaseRecord) -> None:
        spec = self.spec.phase(phase.name)
        if not self.may_start_work(phase):
            return
        attempt = phase.attempt + 1
        fields: dict[str, Any] = {"state": PhaseState.RUNNING, "attempt": attempt}
        if phase.started_at is None:
            fields["started_at"] = self._now
        if spec.timebox is not None and phase.deadline_at is None:
            fields["deadline_at"] = self._now + spec.timebox
        self.set_phase(phase, **fields)
        self.event(events.PHASE_READY, phase.name)
        self.event(events.PHASE_STARTED, phase.name, attempt=attempt, loop=phase.loops)
        if fields.get("deadline_at") is not None:
            self._enqueue(
                spec, TIMER_TASK, RunStep(TaskRole.TIMER, attempt), run_at=phase.deadline_at
            )
        self._launch(phase, spec)

    def _launch(self, phase: PhaseRecord, spec: PhaseSpec) -> None:
        """Enqueue the phase's task, or its first fan-out items."""
        if spec.fan_out is None:
            step = RunStep(TaskRole.PHASE, phase.attempt, phase.loops)
            self._enqueue(spec, spec.task, step, extra=self._loop_context(phase))
            return
        try:
            items = self._fan_out_items(spec)
        except ValueError as exc:
            self._fail_phase(phase, "bad_fan_out", {"message": str(exc)})
            return
        self.set_phase(phase, items=items)
        if not items:
            self._evaluate(phase, [], merged_evidence([]))
            return
        self._start_items(phase, spec)

    def _fan_out_items(self, spec: PhaseSpec) -> list[Any]:
        assert spec.fan_out is not None
        over = spec.fan_out.over
        source, _, key = over.rpartition(".")
        candidates: list[tuple[str, Any]]
        if source == "input":
            candidates = [("input", self.run.input)]
        elif source:
            candidates = [(source, self.phases[source].result)]
        else:
            candidates = [(dep, self.phases[dep].result) for dep in spec.after]
            candidates.append(("input", self.run.input))
        for where, value in candidates:
            if isinstance(value, Mapping) and key in value:
                items = value[key]
                if not isinstance(items, list):
                    raise ValueError(
                        f"fan_out over {over!r}: {where}.{key} is a {type(items).__name__}, "
                        "not a list"
                    )
                return list(items)
        raise ValueError(f"fan_out over {over!r}: no {key!r} in {[w for w, _ in candidates]}")

    def _start_items(self, phase: PhaseRecord, spec: PhaseSpec) -> None:
        """Start fan-out items until ``parallelism`` are live (if work may start)."""
        assert spec.fan_out is not None
        assert phase.items is not None
        current = self._current(phase, TaskRole.ITEM)
        started = {t.step.item for t in current}
        live = sum(1 for t in current if t.state in _LIVE)
        waiting = [i for i in range(len(phase.items)) if i not in started]
        room = spec.fan_out.parallelism - live
        if room <= 0 or not waiting or not self.may_start_work(phase):
            return
        extra = self._loop_context(phase)
        for index in waiting[:room]:
            step = RunStep(TaskRole.ITEM, phase.attempt, phase.loops, index)
            self._enqueue(spec, spec.task, step, item=phase.items[index], extra=extra)

    def _loop_context(self, phase: PhaseRecord) -> dict[str, Any]:
        """For a phase running again after a failed gate: the findings that sent it
        back (still the phase's last evaluation), the loop and the fix's result."""
        if phase.loops == 0:
            return {}
        fixes = [
            t
            for t in self.snap.phase_tasks(phase.name)
            if t.step.role is TaskRole.FIX
            and t.step.loop == phase.loops
            and t.state is TaskState.SUCCEEDED
        ]
        fix_result = self._results([fixes[-1].id]).get(fixes[-1].id) if fixes else None
        return {"findings": phase.gate, "loop": phase.loops, "fix": fix_result}

    # -- progress -------------------------------------------------------------------
    def _current(self, phase: PhaseRecord, *roles: TaskRole) -> list[RunTaskRecord]:
        """Tasks of the phase's current attempt with one of ``roles``."""
        return [
            t
            for t in self.snap.phase_tasks(phase.name)
            if t.step.attempt == phase.attempt and t.step.role in roles
        ]

    def _progress(self, phase: PhaseRecord) -> None:
        if phase.deadline_at is not None and self._now >= phase.deadline_at:
            spec = self.spec.phase(phase.name)
            self._fail_phase(phase, "timeout", {"timebox_s": spec.timebox})
            return
        if phase.state is PhaseState.FIXING:
            self._progress_fix(phase)
            return
        spec = self.spec.phase(phase.name)
        role = TaskRole.PHASE if spec.fan_out is None else TaskRole.ITEM
        tasks = self._current(phase, role)
        broken = next((t for t in tasks if t.state in _BROKEN), None)
        if broken is not None:
            self._fail_phase(phase, "task_" + broken.state.value, broken.error, broken.id)
            return
        if spec.fan_out is None:
            done = [t for t in tasks if t.state is TaskState.SUCCEEDED]
            if done:
                result = self._results([done[0].id]).get(done[0].id)
                stored = self.snap.artifacts.get((phase.name, phase.attempt), set())
                self._evaluate(phase, result, evidence_of(result, stored))
            return
        assert phase.items is not None
        succeeded = {t.step.item: t for t in tasks if t.state is TaskState.SUCCEEDED}
        if len(succeeded) < len(phase.items):
            self._start_items(phase, spec)
            return
        by_id = self._results([succeeded[i].id for i in range(len(phase.items))])
        merged = [by_id.get(succeeded[i].id) for i in range(len(phase.items))]
        stored = self.snap.artifacts.get((phase.name, phase.attempt), set())
        self._evaluate(phase, merged, merged_evidence(merged, stored))

    def _progress_fix(self, phase: PhaseRecord) -> None:
        spec = self.spec.phase(phase.name)
        fixes = [t for t in self._current(phase, TaskRole.FIX) if t.step.loop == phase.loops]
        if not fixes:
            self._start_fix(phase, spec)
            return
        fix = fixes[0]
        if fix.state in _BROKEN:
            self._fail_phase(phase, "fix_" + fix.state.value, fix.error, fix.id)
        elif fix.state is TaskState.SUCCEEDED and self.may_start_work(phase):
            attempt = phase.attempt + 1
            self.set_phase(phase, state=PhaseState.RUNNING, attempt=attempt)
            self.event(events.PHASE_STARTED, phase.name, attempt=attempt, loop=phase.loops)
            self._launch(phase, spec)

    def _start_fix(self, phase: PhaseRecord, spec: PhaseSpec) -> None:
        assert spec.gate is not None
        assert spec.gate.fix is not None
        if not self.may_start_work(phase):
            return
        step = RunStep(TaskRole.FIX, phase.attempt, phase.loops)
        extra = {"findings": phase.gate, "loop": phase.loops}
        self._enqueue(spec, spec.gate.fix, step, extra=extra, own_result=phase.result)
        self.event(events.PHASE_FIXING, phase.name, loop=phase.loops, findings=phase.gate)

    # -- gates ----------------------------------------------------------------------
    def _evaluate(self, phase: PhaseRecord, result: Any, evidence: Evidence) -> None:
        spec = self.spec.phase(phase.name)
        self.set_phase(phase, result=result)
        gate = spec.gate
        if gate is None:
            self._succeed_phase(phase)
            return
        findings: dict[str, Any]
        if not gate.rubric and not gate.evidence:
            verdict_passed, findings = True, {"passed": True}
        else:
            verdict = evaluate(gate, evidence)
            verdict_passed, findings = verdict.passed, verdict.findings
            topic = events.PHASE_GATE_PASSED if verdict.passed else events.PHASE_GATE_FAILED
            self.event(topic, phase.name, loop=phase.loops, **findings)
        findings = {**findings, "loop": phase.loops}
        self.set_phase(phase, gate=findings)
        if verdict_passed:
            self._after_checks(phase)
        elif phase.loops < gate.max_loops and gate.fix is not None:
            self.set_phase(phase, state=PhaseState.FIXING, loops=phase.loops + 1)
            self._start_fix(phase, spec)
        elif self.waiver_valid(phase):
            self.set_phase(phase, gate={**findings, "waived": phase.waiver})
            self.event(events.PHASE_GATE_WAIVED, phase.name, waiver=phase.waiver)
            self._after_checks(phase)
        else:
            self._fail_phase(phase, "gate_failed", findings)

    def state_phrase(self) -> str:
        """``run X is paused`` / ``has succeeded`` / ``was cancelled``, for refusals."""
        return f"run {self.run.id} {state_phrase(self.run.state)}"

    def waiver_valid(self, phase: PhaseRecord) -> bool:
        """True if the phase holds a waiver that has not expired."""
        waiver = phase.waiver
        return waiver is not None and float(waiver.get("expires_at", 0)) > self._now

    def _after_checks(self, phase: PhaseRecord) -> None:
        gate = self.spec.phase(phase.name).gate
        if gate is not None and gate.approval == "human" and phase.approval is None:
            self.set_phase(phase, state=PhaseState.AWAITING_APPROVAL)
            self.event(events.PHASE_APPROVAL_REQUESTED, phase.name, approval=gate.approval)
            return
        self._succeed_phase(phase)

    # -- ending phases --------------------------------------------------------------
    def succeed_phase(self, phase: PhaseRecord) -> None:
        """Mark a phase succeeded (public for approvals)."""
        self._succeed_phase(phase)

    def _succeed_phase(self, phase: PhaseRecord) -> None:
        seq = 1 + max((p.finished_seq or 0 for p in self.phases.values()), default=0)
        self.set_phase(
            phase,
            state=PhaseState.SUCCEEDED,
            finished_at=self._now,
            finished_seq=seq,
            error=None,
        )
        self._cancel(self._live(phase.name, TaskRole.TIMER))
        self.event(
            events.PHASE_SUCCEEDED,
            phase.name,
            attempt=phase.attempt,
            loops=phase.loops,
            usage=_usage_data(self.snap, phase.name),
        )

    def fail_phase(self, phase: PhaseRecord, reason: str, detail: Any = None) -> None:
        """Fail a phase and with it the run (public for rejections)."""
        self._fail_phase(phase, reason, detail)

    def _fail_phase(
        self, phase: PhaseRecord, reason: str, detail: Any, task_id: str | None = None
    ) -> None:
        error = {"reason": reason, "detail": detail}
        if task_id is not None:
            error["task_id"] = task_id
        self.set_phase(phase, state=PhaseState.FAILED, finished_at=self._now, error=error)
        self._cancel(self._live(phase.name))
        self.event(events.PHASE_FAILED, phase.name, reason=reason, detail=detail)
        self.end_run(RunState.FAILED, "phase_failed", {"phase": phase.name, **error})

    # -- ending the run -------------------------------------------------------------
    def end_run(self, ending: RunState, reason: str, detail: Any = None) -> None:
        """Stop every live task and phase, then compensate (or end at once)."""
        self._cancel(
            [
                t
                for t in self.snap.tasks
                if t.state in _LIVE and t.step.role is not TaskRole.COMPENSATE
            ]
        )
        for phase in self.phases.values():
            if phase.state.is_active:
                self.set_phase(phase, state=PhaseState.CANCELLED, finished_at=self._now)
                self.event(events.PHASE_CANCELLED, phase.name)
        detail = {"ending": ending.value, **(detail if isinstance(detail, Mapping) else {})}
        before = self.run.detail if isinstance(self.run.detail, Mapping) else {}
        if before.get("exceeded"):  # overruns recorded already stay so (and are not twice)
            detail["exceeded"] = before["exceeded"]
        if self._to_compensate():
            self.set_run_state(RunState.COMPENSATING, reason, detail)
            self.event(events.RUN_COMPENSATING, reason=reason)
            self._compensate()
        else:
            self._finish(ending, reason, detail)

    def _finish(self, ending: RunState, reason: str | None, detail: Any) -> None:
        self.set_run_state(ending, reason, detail)
        topic = events.RUN_CANCELLED if ending is RunState.CANCELLED else events.RUN_FAILED
        self.event(topic, reason=reason, detail=detail, usage=_usage_data(self.snap))

    def _to_compensate(self) -> list[PhaseRecord]:
        """Succeeded phases with a compensation, newest success first."""
        found = [
            p
            for p in self.phases.values()
            if p.state is PhaseState.SUCCEEDED and self.spec.phase(p.name).compensate
        ]
        return sorted(found, key=lambda p: -(p.finished_seq or 0))

    def _compensate(self) -> None:
        for phase in self._to_compensate():
            spec = self.spec.phase(phase.name)
            assert spec.compensate is not None
            tasks = self._current(phase, TaskRole.COMPENSATE)
            if not tasks:
                step = RunStep(TaskRole.COMPENSATE, phase.attempt)
                self._enqueue(spec, spec.compensate, step, own_result=phase.result)
                self.event(events.PHASE_COMPENSATING, phase.name, task=spec.compensate)
                return
            task = tasks[0]
            if task.state in _LIVE:
                return
            if task.state is TaskState.SUCCEEDED:
                self.set_phase(phase, state=PhaseState.COMPENSATED)
                self.event(events.PHASE_COMPENSATED, phase.name)
            else:
                error = {"reason": "compensation_" + task.state.value, "detail": task.error}
                self.set_phase(phase, state=PhaseState.COMPENSATED, error=error)
                self.event(events.PHASE_COMPENSATION_FAILED, phase.name, **error)
        detail = self.run.detail if isinstance(self.run.detail, Mapping) else {}
        ending = RunState(detail.get("ending", RunState.FAILED.value))
        self._finish(ending, self.run.reason, dict(detail))

    # -- tasks ----------------------------------------------------------------------
    def _live(self, phase: str, *roles: TaskRole) -> list[RunTaskRecord]:
        return [
            t
            for t in self.snap.phase_tasks(phase)
            if t.state in _LIVE and (not roles or t.step.role in roles)
        ]

    def _cancel(self, tasks: Sequence[RunTaskRecord]) -> None:
        for task in tasks:
            if task.id not in self.changes.cancel_tasks:
                self.changes.cancel_tasks.append(task.id)
                task.state = TaskState.CANCELLED

    def _enqueue(
        self,
        spec: PhaseSpec,
        task_name: str,
        step: RunStep,
        *,
        item: Any = None,
        extra: Mapping[str, Any] | None = None,
        own_result: Any = None,
        run_at: float | None = None,
    ) -> None:
        policy = self.snap.policies.get(task_name)
        if policy is None:  # start_run checks every task: only a dropped policy gets here
            raise ConfigError(
                f"run {self.run.id}: task {task_name!r} of phase {spec.name!r} has no "
                "registered policy (no App declaring it opened this database)"
            )
        context = self._task_context(spec, step, item, extra, own_result)
        role = step.role
        params = spec.params if role in (TaskRole.PHASE, TaskRole.ITEM) else {}
        key = f"run:{self.run.id}:{spec.name}:{role.value}:{step.attempt}:{step.loop}"
        if step.item is not None:
            key += f":{step.item}"
        task = NewTask.of(
            _phase_policy(policy, spec, role),
            id=new_id(),
            payload_json=codec.dumps(dict(params)),
            key=key,
            priority=int(policy.priority),
            run_at=run_at,
        )
        task.run_id = self.run.id
        task.phase = spec.name
        task.run_step_json = codec.dumps(step.to_dict())
        task.run_input_json = codec.dumps(context)
        self.changes.tasks.append(task)

    def _task_context(
        self,
        spec: PhaseSpec,
        step: RunStep,
        item: Any,
        extra: Mapping[str, Any] | None,
        own_result: Any,
    ) -> dict[str, Any]:
        """What the task's ``ctx`` shows: the run input, the results it builds on,
        and per role its item, findings or the result to undo."""
        if step.role is TaskRole.TIMER:
            return {}
        results = {dep: self.phases[dep].result for dep in spec.after}
        if step.role in (TaskRole.FIX, TaskRole.COMPENSATE):
            results[spec.name] = own_result
        context: dict[str, Any] = {"input": self.run.input, "results": results}
        if step.role is TaskRole.ITEM:
            context["item"] = item
        if extra:
            context.update(extra)
        return context


def _phase_policy(policy: TaskPolicy, spec: PhaseSpec, role: TaskRole) -> TaskPolicy:
    """The task's policy with the phase's overrides (retries, heartbeats)."""
    if role not in (TaskRole.PHASE, TaskRole.ITEM):
        return policy
    changes: dict[str, Any] = {}
    if spec.retries is not None:
        changes["retries"] = spec.retries
    if spec.heartbeat is not None:
        changes["heartbeat"] = spec.heartbeat
        changes["stall_after"] = spec.stall_after or policy.stall_after
    return replace(policy, **changes) if changes else policy


def _usage_data(snapshot: RunSnapshot, phase: str | None = None) -> dict[str, Any]:
    return usage_dict(snapshot.usage(phase))


def state_phrase(state: RunState) -> str:
    """How a sentence says a run is in ``state``."""
    if state is RunState.CANCELLED:
        return "was cancelled"
    if state.is_terminal:
        return f"has {state.value}"
    return f"is {state.value}"
